// Tests of gc/candidate_set.cc: the candidate set's indexing.
//
// Strategy: a candidate set built from a list of every third object must
// index exactly those, in address order, and answer npos for any other
// object, for a pointer inside an object and for a pointer outside the
// heap; one built from the heap with `all` holds every live object.
#include "gc/candidate_set.h"

#include <gtest/gtest.h>

#include <vector>

#include "synthetic/runtime.h"
#include "tests/support/synthetic.h"

namespace {

using synthetic::Object;
using synthetic::Runtime;

TEST(CandidateSet, IndexesObjectsInAddressOrder) {
  Runtime rt(tricolor_test::synthetic_config());
  synthetic::Mutator self(rt);
  std::vector<Object*> objs;
  for (int i = 0; i < 1000; i++) objs.push_back(rt.allocate(i % 5));
  std::vector<void*> some;
  for (int i = 0; i < 1000; i += 3) some.push_back(objs[i]);
  tricolor::CandidateSet c;
  c.build_from_list(rt.space(), some);
  ASSERT_EQ(c.size(), some.size());
  for (std::size_t i = 0; i < c.size(); i++) {
    EXPECT_EQ(c.index_of(c.object(i)), i);
    if (i) {
      EXPECT_LT(c.object(i - 1), c.object(i));
    }
  }
  EXPECT_EQ(c.index_of(objs[1]), tricolor::CandidateSet::npos);
  EXPECT_EQ(c.index_of(reinterpret_cast<char*>(objs[0]) + 16), tricolor::CandidateSet::npos);
  EXPECT_EQ(c.index_of(&c), tricolor::CandidateSet::npos);
  tricolor::CandidateSet all;
  all.build_from_heap(rt.space(), /*all=*/true);
  EXPECT_EQ(all.size(), 1000u);
  for (Object* o : objs) rt.decref(o);
}

}  // namespace
