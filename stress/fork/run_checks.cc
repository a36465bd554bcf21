// stress/fork/run_checks.cc -- a run's checks (run.h): what the main
// thread reads of the interpreter (events, keep, the heap walked from the
// holders) against the model, after each operation (sequential) or at the
// end (concurrent).  The invariants are listed at the top of main.cc.
#include "run.h"

#include <mutex>
#include <utility>

namespace stressfork {

void Run::fail(const std::string& what) { throw Violation{what}; }

int Run::fins(int uid) const {
  auto it = fin_count_.find(uid);
  return it == fin_count_.end() ? 0 : it->second;
}
int Run::cbs(int uid) const {
  auto it = cb_count_.find(uid);
  return it == cb_count_.end() ? 0 : it->second;
}

void Run::full_collect() {
  PyObject* x = PyObject_CallNoArgs(g_py.full_collect);
  if (x == nullptr) fail("gc.collect() raised:\n" + py_error());
  Py_DECREF(x);
}

bool Run::probe_alive(int uid, std::uintptr_t* addr) {
  auto it = shared_.probes.find(uid);
  if (it == shared_.probes.end()) fail(n(uid) + " has no probe (its creation failed)");
  PyObject* o = nullptr;
  const int rc = PyWeakref_GetRef(it->second, &o);
  if (rc < 0) fail("PyWeakref_GetRef: " + py_error());
  if (addr != nullptr) *addr = reinterpret_cast<std::uintptr_t>(o);
  Py_XDECREF(o);
  return rc == 1;
}

std::set<int> Run::dead_probes() {
  std::set<int> dead;
  for (const auto& [uid, p] : shared_.probes) {
    if (!probe_alive(uid)) dead.insert(uid);
  }
  return dead;
}

// Reads the events appended since the last read.
void Run::read_events() {
  const Py_ssize_t len = PyList_Size(g_py.events);
  for (; events_seen_ < len; events_seen_++) {
    PyObject* e = PyList_GetItemRef(g_py.events, events_seen_);
    if (e == nullptr) fail("events: " + py_error());
    const long type = PyLong_AsLong(PyTuple_GetItem(e, 0));
    const int uid = static_cast<int>(PyLong_AsLong(PyTuple_GetItem(e, 1)));
    const bool dead = type == 1 && PyObject_IsTrue(PyTuple_GetItem(e, 2)) == 1;
    Py_DECREF(e);
    if (uid < base_) continue;  // a late finalizer of an earlier case
    if (!model_.nodes().count(uid)) fail("an event names uid " + std::to_string(uid) + ", not of this case");
    if (type == 0) {
      if (++fin_count_[uid] > 1) fail("__del__ of " + n(uid) + " ran twice");
    } else {
      if (model_.nodes().at(uid).kind != Kind::kWeak) fail("a callback event names " + n(uid) + ", not a WR");
      if (++cb_count_[uid] > 1) fail("the callback of " + n(uid) + " ran twice");
      if (!dead) fail("the callback of " + n(uid) + " ran while " + n(uid) + "() was not None (not cleared first)");
      if (!concurrent_ && fins(uid) > 0) {
        fail("the callback of " + n(uid) + " ran after " + n(uid) + " was finalized (garbage, so cleared)");
      }
    }
  }
}

// The model's view of garbage: strong = reachable from locals and G.
std::set<int> Run::update_garbage() {
  const std::set<int> strong = model_.reachable(false);
  for (auto& [uid, node] : model_.nodes()) {
    if (!strong.count(uid)) node.ever_garbage = true;
  }
  return strong;
}

// Reads the keep list; what is new becomes a holder in the model.
void Run::read_keep() {
  PyObject* l = PyObject_CallNoArgs(g_py.keep_uids);
  if (l == nullptr) fail("reading keep: " + py_error());
  std::vector<int> uids;
  for (Py_ssize_t i = 0; i < PyList_GET_SIZE(l); i++) {
    uids.push_back(static_cast<int>(PyLong_AsLong(PyList_GET_ITEM(l, i))));
  }
  keep_read_ = PyList_GET_SIZE(l);
  Py_DECREF(l);
  // Res.__del__ logs before it appends to keep: the events read now
  // include the finalizer of everything just read from keep, even if a
  // collection on another thread is finalizing meanwhile.
  read_events();
  std::set<int> seen;
  for (int uid : uids) {
    if (uid < base_) continue;
    auto it = model_.nodes().find(uid);
    if (it == model_.nodes().end()) fail("keep holds uid " + std::to_string(uid) + ", not of this case");
    MNode& node = it->second;
    if (!seen.insert(uid).second) fail("keep holds " + n(uid) + " twice (its __del__ ran twice)");
    if (node.kept) continue;
    if (ever_kept_.count(uid)) fail(n(uid) + " was resurrected again after keep let it go");
    if (node.kind != Kind::kRes) fail("keep holds " + n(uid) + ", a " + kind_name(node.kind) + " (only Res resurrects)");
    if (!node.ever_garbage) fail(n(uid) + " was resurrected although it was never garbage (finalized while reachable)");
    if (fins(uid) != 1) fail(n(uid) + " is in keep but its __del__ has not run");
    model_.add_kept(uid);
    ever_kept_.insert(uid);
  }
}

// The heap walked from the holders against the model.
void Run::compare_heap(const std::set<int>& all) {
  PyObject* roots = PyList_New(0);
  {
    std::lock_guard<std::mutex> l(shared_.mu);
    for (const auto& vars : shared_.vars) {
      for (const auto& [var, o] : vars) PyList_Append(roots, o);
    }
  }
  PyObject* snap = PyObject_CallFunction(g_py.snapshot, "Oni", roots, keep_read_, base_);
  Py_DECREF(roots);
  if (snap == nullptr) fail("walking the heap from the holders raised:\n" + py_error());
  std::set<int> found;
  std::string err;
  Py_ssize_t pos = 0;
  PyObject *key, *value;
  while (err.empty() && PyDict_Next(snap, &pos, &key, &value)) {
    const int uid = static_cast<int>(PyLong_AsLong(key));
    found.insert(uid);
    err = compare_node(uid, value, all);
  }
  Py_DECREF(snap);
  if (!err.empty()) fail(err);
  for (int uid : all) {
    if (!found.count(uid)) fail(n(uid) + " is reachable in the model but the heap does not reach it");
  }
}

std::string Run::compare_node(int uid, PyObject* value, const std::set<int>& all) {
  if (uid < base_ || !model_.nodes().count(uid)) {
    return "the heap reaches uid " + std::to_string(uid) + ", not of this case";
  }
  const MNode& node = model_.nodes().at(uid);
  if (!all.count(uid)) {
    return "the heap still reaches " + n(uid) + ", which the model says is unreachable";
  }
  const auto addr = static_cast<std::uintptr_t>(PyLong_AsUnsignedLongLong(PyTuple_GetItem(value, 0)));
  const long kind = PyLong_AsLong(PyTuple_GetItem(value, 1));
  PyObject* edges = PyTuple_GetItem(value, 2);
  if (addr != shared_.addrs[uid]) {
    return n(uid) + " is reached at another address than it was created at";
  } else if (kind != static_cast<long>(node.kind)) {
    return n(uid) + " has changed type";
  }
  std::vector<std::pair<std::string, int>> got, want;
  for (Py_ssize_t i = 0; i < PyList_GET_SIZE(edges); i++) {
    PyObject* e = PyList_GET_ITEM(edges, i);
    PyObject* k = PyTuple_GetItem(e, 0);
    got.emplace_back(k == Py_None ? "" : PyUnicode_AsUTF8(k),
                     static_cast<int>(PyLong_AsLong(PyTuple_GetItem(e, 1))));
  }
  for (int c : node.items) want.emplace_back("", c);
  for (const auto& [k, c] : node.slots) want.emplace_back(k, c);
  if (got != want) {
    auto show = [&](const std::vector<std::pair<std::string, int>>& v) {
      std::string s = "[";
      for (const auto& [k, c] : v) s += (s.size() > 1 ? ", " : "") + (k.empty() ? "" : k + ": ") + n(c);
      return s + "]";
    };
    return "the contents of " + n(uid) + " are " + show(got) + ", the model says " + show(want);
  }
  return "";
}

// ---- the invariants ----

void Run::check(bool after_collect) {
  read_events();
  const std::set<int> strong = update_garbage();
  read_keep();
  const std::set<int> all = model_.reachable(true);
  note_garbage(all);
  if (!shared_.errors.empty()) fail(shared_.errors.front());
  compare_heap(all);
  check_strong(strong);
  check_weakrefs(strong, after_collect);
  if (after_collect) check_completeness();
  dead_before_ = dead_probes();
}

// When each object became unreachable (in collections done), for the
// completeness check.
void Run::note_garbage(const std::set<int>& all) {
  for (auto& [uid, node] : model_.nodes()) {
    if (!all.count(uid)) {
      if (node.garbage_since < 0) node.garbage_since = collections_;
    } else {
      node.garbage_since = -1;
    }
  }
}

// Nothing strong is freed or finalized.
void Run::check_strong(const std::set<int>& strong) {
  for (int uid : strong) {
    if (fins(uid) > 0) fail("__del__ of " + n(uid) + " ran, but it is reachable");
    if (!probe_alive(uid)) fail(n(uid) + " is reachable, but its weakref is dead (freed, or seen as garbage)");
  }
}

// Every strong WR: refers to its referent while that lives, and has had
// its callback once the referent died.
void Run::check_weakrefs(const std::set<int>& strong, bool after_collect) {
  for (int uid : strong) {
    const MNode& w = model_.nodes().at(uid);
    if (w.kind != Kind::kWeak) continue;
    std::uintptr_t wr_addr = 0;
    probe_alive(uid, &wr_addr);
    // What the WR refers to now (it is alive: strong).
    PyObject* wobj = reinterpret_cast<PyObject*>(wr_addr);
    PyObject* referent = nullptr;
    if (PyWeakref_GetRef(wobj, &referent) < 0) fail("PyWeakref_GetRef: " + py_error());
    const auto ref_addr = reinterpret_cast<std::uintptr_t>(referent);
    Py_XDECREF(referent);
    const bool target_alive = probe_alive(w.target);
    if (ref_addr != 0 && ref_addr != shared_.probe_addrs[w.target]) {
      fail(n(uid) + "() is not " + n(w.target));
    }
    // A referent's plain weakrefs (the probe) are cleared before those
    // with callbacks, and a collection clears all at once.
    if (ref_addr == 0 && target_alive) {
      fail(n(uid) + " was cleared while " + n(w.target) + " is alive (its other weakref is)");
    }
    if (cbs(uid) > 0) {
      if (target_alive) fail("the callback of " + n(uid) + " ran, but the weakref to " + n(w.target) + " is alive");
      if (ref_addr != 0) fail("the callback of " + n(uid) + " ran, but " + n(uid) + "() is not None");
    }
    if (after_collect && dead_before_.count(w.target)) {
      if (cbs(uid) == 0) {
        fail(n(w.target) + " died (its weakref was dead before the last collection began), but the callback of " +
             n(uid) + ", which is reachable, has not run");
      }
    }
  }
}

// After a collection: everything whose weakref was dead before it began
// is finalized; sequential: everything unreachable for two collections is
// freed and finalized.
void Run::check_completeness() {
  for (int uid : dead_before_) {
    if (fins(uid) == 0) {
      fail("the weakref to " + n(uid) + " was dead before the last collection began, but its __del__ has not run");
    }
  }
  if (!concurrent_) {
    for (const auto& [uid, node] : model_.nodes()) {
      if (node.garbage_since < 0 || collections_ < node.garbage_since + 2) continue;
      if (probe_alive(uid)) {
        fail(n(uid) + " has been unreachable since before collection " + std::to_string(node.garbage_since + 1) +
             " but is still alive after collection " + std::to_string(collections_));
      }
      if (fins(uid) == 0) fail(n(uid) + " was freed without its __del__ running");
    }
  }
}

}  // namespace stressfork
