// stress/fork/program.h -- the generated programs of stress_fork and their
// reference model (pure C++, no Python: operation.cc runs them,
// run_checks.cc checks them).
//
// A program is a list of abstract operations, each owned by one thread.
// Operations name the objects they use by indices into the owning thread's
// locals (taken modulo the number of locals when the program runs), so any
// sub-list of a program is still a program: that is what lets rapidcheck
// shrink a failure by dropping operations and lowering numbers.  Model::
// resolve() turns one abstract operation into a concrete one (which object,
// which slot, which list index; ROp) and applies it to the model; an
// operation that does not apply (no locals, nothing to unlink) becomes a
// no-op.  Resolution depends on the program alone, never on the
// interpreter, so the sequential and the concurrent variants execute the
// same concrete program.
//
// The model: every object a program creates (a node, named o<k> in
// printouts), its strong links (list items, dict entries, instance
// attributes), and the holders outside the heap -- each thread's locals,
// the globals dict G, and the keep list that resurrecting finalizers append
// to (the driver tells the model what it found there).  Weak references
// are nodes too (a WR object is an ordinary object that can be linked,
// sent and dropped), with a weak target that is not an edge.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <rapidcheck.h>

namespace stressfork {

enum class Kind : std::uint8_t {
  kList,  // a plain list; item 0 is a Tag (weakref-able, with __del__) standing for it
  kDict,  // a plain dict; d['tag'] is its Tag
  kInst,  // an instance of Node (class with __del__ logging its uid)
  kRes,   // an instance of Res: its __del__ logs, then appends self to keep
  kWeak,  // WR(target, uid): a weakref.ref subclass, callback logs (uid, wr() is None)
};

inline const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kList: return "List";
    case Kind::kDict: return "Dict";
    case Kind::kInst: return "Node";
    case Kind::kRes: return "Res";
    case Kind::kWeak: return "WR";
  }
  return "?";
}

inline bool is_container(Kind k) { return k != Kind::kWeak; }

enum class OpType : std::uint8_t {
  kCreate,     // new object of `kind` in the thread's locals
  kLink,       // container a gets a strong reference to b (append or extend / d[k] = / setattr)
  kUnlink,     // container a loses one of its references
  kDrop,       // the thread drops local a
  kHand,       // local a goes to another thread's locals (moved, or copied)
  kWeakref,    // new WR(local a, callback) in the thread's locals
  kCollect,    // gc.collect() (a collection that starts after the call, completed)
  kSetGlobal,  // G['g<key>'] = local a
  kDelGlobal,  // del G['g<key>']
  kDictView,   // instance a's __dict__ is read (materialized from its inline values)
};

// One abstract operation, as generated.
struct Op {
  OpType type = OpType::kCreate;
  int thread = 0;  // owner, 0..threads-1
  Kind kind = Kind::kList;
  int a = 0, b = 0;  // indices into the owner's locals (mod their number)
  int key = 0;       // 0..3: dict key / attribute / global / list index
  int to = 0;        // kHand: to thread (thread + 1 + to mod (threads - 1))
  bool copy = false; // kHand: keep a reference too
};

inline void showValue(const Op& op, std::ostream& os) {
  os << "t" << op.thread << ":";
  switch (op.type) {
    case OpType::kCreate: os << "Create(" << kind_name(op.kind) << ")"; break;
    case OpType::kLink: os << "Link(#" << op.a << " -> #" << op.b << ", key " << op.key << ")"; break;
    case OpType::kUnlink: os << "Unlink(#" << op.a << ", key " << op.key << ")"; break;
    case OpType::kDrop: os << "Drop(#" << op.a << ")"; break;
    case OpType::kHand: os << "Hand(#" << op.a << ", to +" << op.to << (op.copy ? ", copy)" : ", move)"); break;
    case OpType::kWeakref: os << "Weakref(#" << op.a << ")"; break;
    case OpType::kCollect: os << "Collect"; break;
    case OpType::kSetGlobal: os << "SetGlobal(#" << op.a << ", g" << op.key << ")"; break;
    case OpType::kDelGlobal: os << "DelGlobal(g" << op.key << ")"; break;
    case OpType::kDictView: os << "DictView(#" << op.a << ")"; break;
  }
}

inline bool operator==(const Op& x, const Op& y) {
  return x.type == y.type && x.thread == y.thread && x.kind == y.kind && x.a == y.a && x.b == y.b &&
         x.key == y.key && x.to == y.to && x.copy == y.copy;
}

inline std::ostream& operator<<(std::ostream& os, const Op& op) {
  showValue(op, os);
  return os;
}

// Operation names for --without (exploring past a known failure).
inline const char* op_name(OpType t) {
  switch (t) {
    case OpType::kCreate: return "create";
    case OpType::kLink: return "link";
    case OpType::kUnlink: return "unlink";
    case OpType::kDrop: return "drop";
    case OpType::kHand: return "hand";
    case OpType::kWeakref: return "weakref";
    case OpType::kCollect: return "collect";
    case OpType::kSetGlobal: return "setglobal";
    case OpType::kDelGlobal: return "delglobal";
    case OpType::kDictView: return "dictview";
  }
  return "?";
}
constexpr int kOpTypes = 10;

// without: operation types not to generate (a bit per OpType).
inline rc::Gen<Op> gen_op(int threads, unsigned without = 0) {
  using namespace rc;
  const auto th = gen::inRange(0, threads);
  const auto idx = gen::inRange(0, 16);
  const auto key = gen::inRange(0, 4);
  auto make = [](OpType t) {
    return [t](int thread, int a, int b, int k) {
      Op op;
      op.type = t;
      op.thread = thread;
      op.a = a;
      op.b = b;
      op.key = k;
      return op;
    };
  };
  const auto kind = gen::weightedElement<Kind>(
      {{3, Kind::kList}, {3, Kind::kDict}, {3, Kind::kInst}, {2, Kind::kRes}});
  auto w = [without](OpType t, std::size_t weight) -> std::size_t {
    return (without >> static_cast<unsigned>(t)) & 1u ? 0 : weight;
  };
  return gen::weightedOneOf<Op>({
      {w(OpType::kCreate, 18), gen::apply(
               [](int thread, Kind k) {
                 Op op;
                 op.type = OpType::kCreate;
                 op.thread = thread;
                 op.kind = k;
                 return op;
               },
               th, kind)},
      {w(OpType::kLink, 22), gen::apply(make(OpType::kLink), th, idx, idx, key)},
      {w(OpType::kUnlink, 8), gen::apply(make(OpType::kUnlink), th, idx, gen::just(0), key)},
      {w(OpType::kDrop, 12), gen::apply(make(OpType::kDrop), th, idx, gen::just(0), gen::just(0))},
      {w(OpType::kHand, 9), gen::apply(
              [](int thread, int a, int to, bool copy) {
                Op op;
                op.type = OpType::kHand;
                op.thread = thread;
                op.a = a;
                op.to = to;
                op.copy = copy;
                return op;
              },
              th, idx, gen::inRange(0, 8), gen::arbitrary<bool>())},
      {w(OpType::kWeakref, 8), gen::apply(make(OpType::kWeakref), th, idx, gen::just(0), gen::just(0))},
      {w(OpType::kCollect, 7), gen::apply(make(OpType::kCollect), th, gen::just(0), gen::just(0), gen::just(0))},
      {w(OpType::kSetGlobal, 4), gen::apply(make(OpType::kSetGlobal), th, idx, gen::just(0), key)},
      {w(OpType::kDelGlobal, 3), gen::apply(make(OpType::kDelGlobal), th, gen::just(0), gen::just(0), key)},
      {w(OpType::kDictView, 4), gen::apply(make(OpType::kDictView), th, idx, gen::just(0), gen::just(0))},
  });
}

// Programs of up to twice rapidcheck's size (max_size, default 100) operations.
inline rc::Gen<std::vector<Op>> gen_program(int threads, unsigned without = 0) {
  return rc::gen::scale(2.0, rc::gen::container<std::vector<Op>>(gen_op(threads, without)));
}

// One concrete operation: what the executing thread does.
struct ROp {
  OpType type = OpType::kCreate;
  bool nop = false;
  int thread = 0;
  Kind kind = Kind::kList;     // kCreate: the new object's; kLink/kUnlink: the container's
  int uid = 0;                 // kCreate/kWeakref: the new object; else the object operated on
  int var = 0;                 // kCreate/kWeakref: the new local; else the local used
  int uid2 = 0;                // kLink: the target; kWeakref: the referent
  int var2 = 0;                // kLink: the target's local; kWeakref: the referent's; kHand: the new local
  Kind kind2 = Kind::kList;    // kWeakref: the referent's kind
  std::string key;             // dict key / attribute / global name; kLink of a list: append or extend
  int index = 0;               // kUnlink of a list: position among the links (item index + 1)
  int to = 0;                  // kHand: the receiving thread
  bool copy = false;           // kHand
  int seq = 0;                 // kLink/kUnlink: number of earlier mutations of uid; globals: of G
  std::string text;            // readable form
};

// A local: a strong reference held by one thread, outside the heap.
struct Var {
  int id;
  int uid;
};

struct MNode {
  Kind kind = Kind::kList;
  std::vector<int> items;             // kList: linked uids, in order
  std::map<std::string, int> slots;   // kDict/kInst/kRes: key -> uid
  int target = 0;                     // kWeak: the referent
  // Checker state (run_checks.cc):
  bool ever_garbage = false;  // once unreachable from locals and G (sticky)
  int garbage_since = -1;     // collections done when it was first seen unreachable from every holder; -1 if not garbage
  bool kept = false;          // seen in the keep list
};

inline std::string oname(int uid, int base) { return "o" + std::to_string(uid - base + 1); }

class Model {
 public:
  Model(int threads, int uid_base) : threads_(threads), base_(uid_base), next_uid_(uid_base),
                                     locals_(static_cast<std::size_t>(threads)) {}

  // Applies op to the model and returns the concrete operation.
  ROp resolve(const Op& op) {
    ROp r;
    r.type = op.type;
    r.thread = op.thread;
    auto& mine = locals_[static_cast<std::size_t>(op.thread)];
    std::ostringstream t;
    t << "t" << op.thread << ": ";
    auto nop = [&](const char* why) {
      r.nop = true;
      t << "(no-op: " << why << ")";
      r.text = t.str();
      return r;
    };
    auto pick = [&](int i) -> const Var& { return mine[static_cast<std::size_t>(i) % mine.size()]; };
    switch (op.type) {
      case OpType::kCreate: {
        r.kind = op.kind;
        r.uid = next_uid_++;
        r.var = next_var_++;
        nodes_[r.uid].kind = op.kind;
        mine.push_back({r.var, r.uid});
        t << name(r.uid) << " = " << kind_name(op.kind) << "()";
        break;
      }
      case OpType::kLink: {
        std::vector<Var> cs;
        for (const Var& v : mine) {
          if (is_container(nodes_[v.uid].kind)) cs.push_back(v);
        }
        if (cs.empty()) return nop("no container in locals");
        const Var src = cs[static_cast<std::size_t>(op.a) % cs.size()];
        const Var dst = pick(op.b);
        MNode& n = nodes_[src.uid];
        r.kind = n.kind;
        r.uid = src.uid;
        r.var = src.id;
        r.uid2 = dst.uid;
        r.var2 = dst.id;
        r.seq = seq_[src.uid]++;
        if (n.kind == Kind::kList) {
          // extend() copies in chunks and polls for safepoints (the fork's
          // stress mode collects there); append() does not.
          r.key = op.key >= 2 ? "extend" : "append";
          n.items.push_back(dst.uid);
          if (r.key == "extend") {
            t << name(src.uid) << ".extend((" << name(dst.uid) << ",))";
          } else {
            t << name(src.uid) << ".append(" << name(dst.uid) << ")";
          }
        } else if (n.kind == Kind::kDict) {
          r.key = "k" + std::to_string(op.key);
          n.slots[r.key] = dst.uid;
          t << name(src.uid) << "['" << r.key << "'] = " << name(dst.uid);
        } else {
          r.key = "a" + std::to_string(op.key);
          n.slots[r.key] = dst.uid;
          t << name(src.uid) << "." << r.key << " = " << name(dst.uid);
        }
        break;
      }
      case OpType::kUnlink: {
        std::vector<Var> cs;
        for (const Var& v : mine) {
          const MNode& n = nodes_[v.uid];
          if (is_container(n.kind) && (!n.items.empty() || !n.slots.empty())) cs.push_back(v);
        }
        if (cs.empty()) return nop("no linked container in locals");
        const Var src = cs[static_cast<std::size_t>(op.a) % cs.size()];
        MNode& n = nodes_[src.uid];
        r.kind = n.kind;
        r.uid = src.uid;
        r.var = src.id;
        r.seq = seq_[src.uid]++;
        if (n.kind == Kind::kList) {
          const std::size_t i = static_cast<std::size_t>(op.key) % n.items.size();
          r.index = static_cast<int>(i) + 1;
          r.uid2 = n.items[i];
          n.items.erase(n.items.begin() + static_cast<std::ptrdiff_t>(i));
          t << "del " << name(src.uid) << "[" << r.index << "]  (was " << name(r.uid2) << ")";
        } else {
          std::string k = (n.kind == Kind::kDict ? "k" : "a") + std::to_string(op.key);
          if (!n.slots.count(k)) {
            auto it = n.slots.begin();
            std::advance(it, static_cast<std::ptrdiff_t>(static_cast<std::size_t>(op.key) % n.slots.size()));
            k = it->first;
          }
          r.key = k;
          r.uid2 = n.slots[k];
          n.slots.erase(k);
          if (n.kind == Kind::kDict) {
            t << "del " << name(src.uid) << "['" << k << "']  (was " << name(r.uid2) << ")";
          } else {
            t << "del " << name(src.uid) << "." << k << "  (was " << name(r.uid2) << ")";
          }
        }
        break;
      }
      case OpType::kDrop: {
        if (mine.empty()) return nop("no locals");
        const std::size_t i = static_cast<std::size_t>(op.a) % mine.size();
        r.uid = mine[i].uid;
        r.var = mine[i].id;
        mine.erase(mine.begin() + static_cast<std::ptrdiff_t>(i));
        t << "drop " << name(r.uid);
        break;
      }
      case OpType::kHand: {
        if (threads_ < 2) return nop("one thread");
        if (mine.empty()) return nop("no locals");
        const std::size_t i = static_cast<std::size_t>(op.a) % mine.size();
        r.uid = mine[i].uid;
        r.var = mine[i].id;
        r.to = (op.thread + 1 + op.to % (threads_ - 1)) % threads_;
        r.copy = op.copy;
        r.var2 = next_var_++;
        if (!op.copy) mine.erase(mine.begin() + static_cast<std::ptrdiff_t>(i));
        locals_[static_cast<std::size_t>(r.to)].push_back({r.var2, r.uid});
        t << "send " << name(r.uid) << " -> t" << r.to << (op.copy ? " (copy)" : " (move)");
        break;
      }
      case OpType::kWeakref: {
        if (mine.empty()) return nop("no locals");
        const Var target = pick(op.a);
        r.uid2 = target.uid;
        r.var2 = target.id;
        r.kind2 = nodes_[target.uid].kind;
        r.kind = Kind::kWeak;
        r.uid = next_uid_++;
        r.var = next_var_++;
        MNode& w = nodes_[r.uid];
        w.kind = Kind::kWeak;
        w.target = target.uid;
        mine.push_back({r.var, r.uid});
        t << name(r.uid) << " = WR(" << name(target.uid) << ", callback)";
        break;
      }
      case OpType::kCollect:
        t << "gc.collect()";
        break;
      case OpType::kSetGlobal: {
        if (mine.empty()) return nop("no locals");
        const Var v = pick(op.a);
        r.uid = v.uid;
        r.var = v.id;
        r.key = "g" + std::to_string(op.key);
        r.seq = seq_[0]++;
        globals_[r.key] = v.uid;
        t << "G['" << r.key << "'] = " << name(v.uid);
        break;
      }
      case OpType::kDictView: {
        std::vector<Var> is;
        for (const Var& v : mine) {
          const Kind k = nodes_[v.uid].kind;
          if (k == Kind::kInst || k == Kind::kRes) is.push_back(v);
        }
        if (is.empty()) return nop("no instance in locals");
        const Var v = is[static_cast<std::size_t>(op.a) % is.size()];
        r.uid = v.uid;
        r.var = v.id;
        r.kind = nodes_[v.uid].kind;
        t << name(v.uid) << ".__dict__";
        break;
      }
      case OpType::kDelGlobal: {
        r.key = "g" + std::to_string(op.key);
        if (!globals_.count(r.key)) return nop("no such global");
        r.uid = globals_[r.key];
        r.seq = seq_[0]++;
        globals_.erase(r.key);
        t << "del G['" << r.key << "']  (was " << name(r.uid) << ")";
        break;
      }
    }
    r.text = t.str();
    return r;
  }

  // Reachable from the threads' locals and G (strong), and from those plus
  // the keep list (all).
  std::set<int> reachable(bool with_keep) const {
    std::set<int> seen;
    std::vector<int> stack;
    auto push = [&](int uid) {
      if (seen.insert(uid).second) stack.push_back(uid);
    };
    for (const auto& l : locals_) {
      for (const Var& v : l) push(v.uid);
    }
    for (const auto& [k, uid] : globals_) push(uid);
    if (with_keep) {
      for (int uid : kept_) push(uid);
    }
    while (!stack.empty()) {
      const int u = stack.back();
      stack.pop_back();
      const MNode& n = nodes_.at(u);
      for (int c : n.items) push(c);
      for (const auto& [k, c] : n.slots) push(c);
    }
    return seen;
  }

  std::string name(int uid) const { return oname(uid, base_); }
  int base() const { return base_; }
  int threads() const { return threads_; }
  std::map<int, MNode>& nodes() { return nodes_; }
  const std::map<int, MNode>& nodes() const { return nodes_; }
  const std::vector<std::vector<Var>>& locals() const { return locals_; }
  const std::map<std::string, int>& globals() const { return globals_; }
  const std::vector<int>& kept() const { return kept_; }
  void add_kept(int uid) {
    kept_.push_back(uid);
    nodes_[uid].kept = true;
  }
  // Teardown: every thread drops its locals, G is cleared, keep is emptied.
  void drop_all_locals() {
    for (auto& l : locals_) l.clear();
    globals_.clear();
  }
  void clear_kept() { kept_.clear(); }

 private:
  int threads_;
  int base_;
  int next_uid_;
  int next_var_ = 1;
  std::map<int, MNode> nodes_;
  std::vector<std::vector<Var>> locals_;
  std::map<std::string, int> globals_;
  std::vector<int> kept_;
  std::map<int, int> seq_;  // uid -> mutations resolved (0: G)
};

}  // namespace stressfork
