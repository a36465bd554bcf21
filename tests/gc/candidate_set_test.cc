// Tests of gc/candidate_set.cc: the candidate set's indexing.
//
// Strategy: a candidate set built from a list of every third object must
// index exactly those, in address order, and answer npos for any other
// object, for a pointer inside an object and for a pointer outside the
// heap, whatever order the list came in; a copy stays whole when the
// original is rebuilt; one built from the heap with `all` holds every
// live object.
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
  // Any order in, the same set out.
  std::vector<void*> reversed(some.rbegin(), some.rend());
  tricolor::CandidateSet r;
  r.build_from_list(rt.space(), reversed);
  ASSERT_EQ(r.size(), c.size());
  for (std::size_t i = 0; i < r.size(); i++) EXPECT_EQ(r.object(i), c.object(i));
  // A copy answers alone (the filter keeps pass 0's set as the domain).
  tricolor::CandidateSet copy = c;
  c.build_from_list(rt.space(), {});
  EXPECT_EQ(c.size(), 0u);
  EXPECT_EQ(c.index_of(some[0]), tricolor::CandidateSet::npos);
  ASSERT_EQ(copy.size(), some.size());
  for (void* o : some) EXPECT_NE(copy.index_of(o), tricolor::CandidateSet::npos);
  tricolor::CandidateSet all;
  all.build_from_heap(rt.space(), /*all=*/true);
  EXPECT_EQ(all.size(), 1000u);
  for (Object* o : objs) rt.decref(o);
}

}  // namespace
