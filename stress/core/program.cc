// stress/core/program.cc -- generating and printing programs (program.h).
#include "stress/core/program.h"

#include <string_view>

namespace stress {

namespace {

using tricolor::Phase;

// Weights: mostly building and rewiring graphs, regular drops (garbage),
// and enough finalizers, weak references and collects to meet them.
Op make(const Shape& s, Kind kind, bool top) {
  Op op;
  op.kind = kind;
  op.thread = *rc::gen::inRange(0, s.threads);
  op.a = *rc::gen::inRange(0, 8);
  op.b = *rc::gen::inRange(0, 8);
  op.slot = *rc::gen::inRange(0, 3);
  op.g = *rc::gen::inRange(0, s.globals);
  op.to = *rc::gen::inRange(0, s.threads);
  op.flag = *rc::gen::arbitrary<bool>();
  switch (kind) {
    case Kind::kCreate: op.n = *rc::gen::inRange(0, 4); break;
    case Kind::kRing: op.n = *rc::gen::inRange(1, 5); break;
    case Kind::kCollect:
      if (top) {
        op.during = *rc::gen::resize(8, rc::gen::container<std::vector<Op>>(gen_op(s, false)));
      }
      break;
    default: break;
  }
  return op;
}

}  // namespace

rc::Gen<Shape> gen_timing(const Shape& shape) {
  return rc::gen::exec([shape] {
    Shape s = shape;
    // Mostly no wait, else a yield, a short or a long sleep.
    auto wait = rc::gen::weightedElement<int>({{4, 0}, {2, 1}, {2, 50}, {1, 1000}});
    for (int& d : s.phase_delay_us) d = *wait;
    s.alloc_pause = *rc::gen::weightedElement<int>({{1, 0}, {2, 1}, {2, 8}, {1, 64}});
    s.alloc_pause_us = *rc::gen::element(1, 20, 200);
    return s;
  });
}

rc::Gen<Op> gen_op(const Shape& shape, bool top) {
  return rc::gen::exec([shape, top] {
    Kind kind;
    if (top) {
      kind = *rc::gen::weightedElement<Kind>({{6, Kind::kCreate},      {4, Kind::kRing},
                                              {6, Kind::kLink},        {2, Kind::kUnlink},
                                              {3, Kind::kLoad},        {4, Kind::kDrop},
                                              {2, Kind::kHandOff},     {2, Kind::kSetGlobal},
                                              {1, Kind::kGetGlobal},   {1, Kind::kClearGlobal},
                                              {3, Kind::kFinalizer},   {3, Kind::kWeakref},
                                              {1, Kind::kWeakGet},     {3, Kind::kCollect}});
    } else {
      // While a collection runs: moves that hide objects from the marker,
      // allocations that straddle the concurrent phases, weak references
      // born black, and the rest.
      kind = *rc::gen::weightedElement<Kind>({{3, Kind::kMove},        {2, Kind::kCreateAcross},
                                              {2, Kind::kCreate},      {2, Kind::kLink},
                                              {2, Kind::kDrop},        {1, Kind::kLoad},
                                              {1, Kind::kSetGlobal},   {1, Kind::kClearGlobal},
                                              {1, Kind::kWeakGet},     {1, Kind::kFinalizer},
                                              {2, Kind::kWeakref},     {1, Kind::kGetGlobal}});
    }
    Op op = make(shape, kind, top);
    if (!top) {
      // The phases after which a mutator runs: every phase but the
      // pauses' insides (a hook runs with the world running).
      op.after = *rc::gen::element(Phase::kRootScan, Phase::kConcurrentMark, Phase::kCandidateScan,
                                   Phase::kCandidateFilter, Phase::kVerify, Phase::kFinalize,
                                   Phase::kResurrectionCheck, Phase::kClear);
      if (kind == Kind::kCreateAcross) {
        op.after = *rc::gen::element(Phase::kRootScan, Phase::kConcurrentMark, Phase::kCandidateScan);
      }
    }
    return op;
  });
}

rc::Gen<std::vector<Op>> gen_program(const Shape& shape) {
  return rc::gen::container<std::vector<Op>>(gen_op(shape, true));
}

rc::Gen<std::vector<Op>> gen_thread_ops(const Shape& shape, int thread) {
  return rc::gen::map(rc::gen::container<std::vector<Op>>(rc::gen::exec([shape] {
                        Kind kind = *rc::gen::weightedElement<Kind>(
                            {{6, Kind::kCreate}, {4, Kind::kRing},      {6, Kind::kLink},
                             {2, Kind::kUnlink}, {3, Kind::kLoad},      {4, Kind::kDrop},
                             {2, Kind::kHandOff}, {2, Kind::kSetGlobal}, {2, Kind::kGetGlobal},
                             {1, Kind::kClearGlobal}, {3, Kind::kFinalizer}, {3, Kind::kWeakref},
                             {2, Kind::kWeakGet}});
                        return make(shape, kind, false);
                      })),
                      [thread](std::vector<Op> ops) {
                        for (Op& op : ops) op.thread = thread;
                        return ops;
                      });
}

namespace {
std::string_view kind_name(Kind k) {
  switch (k) {
    case Kind::kCreate: return "create";
    case Kind::kRing: return "ring";
    case Kind::kLink: return "link";
    case Kind::kUnlink: return "unlink";
    case Kind::kLoad: return "load";
    case Kind::kMove: return "move";
    case Kind::kDrop: return "drop";
    case Kind::kHandOff: return "hand-off";
    case Kind::kSetGlobal: return "set-global";
    case Kind::kGetGlobal: return "get-global";
    case Kind::kClearGlobal: return "clear-global";
    case Kind::kFinalizer: return "finalizer";
    case Kind::kWeakref: return "weakref";
    case Kind::kWeakGet: return "weak-get";
    case Kind::kCreateAcross: return "create-across";
    case Kind::kCollect: return "collect";
  }
  return "?";
}
}  // namespace

void showValue(const Shape& s, std::ostream& os) {
  os << "threads=" << s.threads << " verify_batch=" << s.verify_batch << " waits after phases (us, 1 = yield):";
  for (int p = 0; p < static_cast<int>(Phase::kCount); p++) {
    if (s.phase_delay_us[p]) os << " " << tricolor::phase_name(static_cast<Phase>(p)) << "=" << s.phase_delay_us[p];
  }
  os << "; allocations pausing between their bitmap stores: ";
  if (s.alloc_pause) os << "1 in " << s.alloc_pause << ", " << s.alloc_pause_us << " us";
  else os << "none";
}

void showValue(const Op& op, std::ostream& os) {
  os << "t" << op.thread << " " << kind_name(op.kind);
  switch (op.kind) {
    case Kind::kCreate: os << " slots=" << op.n; break;
    case Kind::kRing: os << " length=" << op.n; break;
    case Kind::kLink: os << " L" << op.a << ".s" << op.slot << " = L" << op.b; break;
    case Kind::kUnlink:
    case Kind::kLoad:
    case Kind::kMove: os << " L" << op.a << ".s" << op.slot; break;
    case Kind::kDrop:
    case Kind::kWeakGet: os << " L" << op.a; break;
    case Kind::kHandOff: os << " L" << op.a << " -> t" << op.to; break;
    case Kind::kSetGlobal: os << " G" << op.g << " = L" << op.a; break;
    case Kind::kGetGlobal:
    case Kind::kClearGlobal: os << " G" << op.g; break;
    case Kind::kFinalizer:
      os << " L" << op.a;
      if (op.flag) os << " (resurrects into G" << op.g << ")";
      break;
    case Kind::kWeakref: os << " to L" << op.a << (op.flag ? " with callback" : ""); break;
    case Kind::kCreateAcross: os << " slots=" << op.n; break;
    case Kind::kCollect:
      os << (op.flag ? " full-stw" : " concurrent");
      for (const Op& d : op.during) {
        os << "\n      after " << tricolor::phase_name(d.after) << ": ";
        showValue(d, os);
      }
      break;
  }
}

}  // namespace stress
