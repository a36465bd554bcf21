// stress/fork/run.cc -- a run's execution and teardown (run.h); its
// checks are in run_checks.cc.
#include "run.h"

#include <chrono>
#include <random>
#include <sstream>
#include <thread>

#include "options.h"
#include "property.h"  // g_failed
#include "worker.h"

namespace stressfork {

Totals g_totals;

Run::Run(const std::vector<Op>& program, bool concurrent, int uid_base)
    : concurrent_(concurrent),
      model_(g_opt.threads, uid_base),
      base_(uid_base),
      program_op_(program) {
  shared_.vars.resize(static_cast<std::size_t>(g_opt.threads));
  // Resolution depends on the program only: resolve it all up front (the
  // listing, and the concurrent variant's per-thread lists), and again op
  // by op in model_ as it runs.
  Model m(g_opt.threads, uid_base);
  for (const Op& op : program) ops_.push_back(m.resolve(op));
}

std::string Run::listing(int mark) const {
  std::ostringstream os;
  int shown = 0, nops = 0;
  for (std::size_t i = 0; i < ops_.size(); i++) {
    if (ops_[i].nop) {
      nops++;
      continue;
    }
    os << (static_cast<int>(i) == mark ? "  >" : "   ") << (i < 10 ? "  " : i < 100 ? " " : "") << i << "  "
       << ops_[i].text << "\n";
    shown++;
  }
  if (nops > 0) os << "   (" << nops << " no-op" << (nops > 1 ? "s" : "") << " not shown)\n";
  if (shown == 0) os << "   (nothing)\n";
  return os.str();
}

std::vector<std::string> Run::run() {
  const char* name = concurrent_ ? "concurrent" : "sequential";
  try {
    if (concurrent_) {
      run_concurrent();
    } else {
      run_sequential();
    }
  } catch (const Violation& v) {
    std::ostringstream os;
    os << "[" << name << " variant" << (at_ >= 0 ? ", after operation " + std::to_string(at_) : std::string())
       << "] " << v.what;
    violations_.push_back(os.str());
  }
  try {
    MainAttached attached;
    teardown();
  } catch (const Violation& v) {
    violations_.push_back(std::string("[") + name + " variant, teardown] " + v.what);
  }
  {
    MainAttached attached;
    cleanup();
  }
  if (violations_.empty() && !g_failed) record_totals();
  return violations_;
}

void Run::record_totals() const {
  g_totals.runs++;
  for (const ROp& r : ops_) {
    g_totals.ops += !r.nop;
    g_totals.collects += r.type == OpType::kCollect && !r.nop;
  }
  g_totals.objects += static_cast<long>(model_.nodes().size());
  for (const auto& [uid, c] : fin_count_) g_totals.finalizers += c;
  for (const auto& [uid, c] : cb_count_) g_totals.callbacks += c;
  g_totals.resurrected += static_cast<long>(ever_kept_.size());
}

// ---- execution ----

void Run::run_sequential() {
  for (std::size_t i = 0; i < ops_.size(); i++) {
    const ROp r = model_.resolve(original_op(i));
    if (r.nop) continue;
    at_ = static_cast<int>(i);
    Worker& w = *g_workers[static_cast<std::size_t>(r.thread)];
    w.post([&] {
      w.attach();
      exec_op(shared_, r);
      w.detach();
    });
    w.wait();
    if (r.type == OpType::kCollect) collections_++;
    MainAttached attached;
    check(r.type == OpType::kCollect);
  }
  at_ = -1;
}

void Run::run_concurrent() {
  // The final model: resolve everything (program order).
  for (std::size_t i = 0; i < ops_.size(); i++) model_.resolve(original_op(i));
  std::atomic<bool> stop{false};
  start_collector(stop);
  start_workers();
  for (auto& w : g_workers) w->wait();
  stop.store(true);
  g_collector->wait();
  MainAttached attached;
  // Quiescent: a collection that starts now and ends has also seen the end
  // of every collection in flight (their callbacks and finalizers).
  dead_before_ = dead_probes();
  full_collect();
  check(true);
}

void Run::start_collector(std::atomic<bool>& stop) {
  g_collector->post([&] {
    std::minstd_rand rng(static_cast<unsigned>(base_));
    while (!stop.load()) {
      g_collector->attach();
      PyObject* x = PyObject_CallNoArgs(g_py.full_collect);
      if (x == nullptr) {
        const std::string e = py_error();
        std::lock_guard<std::mutex> l(shared_.mu);
        shared_.errors.push_back("the collector thread's gc.collect() raised:\n" + e);
      }
      Py_XDECREF(x);
      g_collector->detach();
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 1000));
    }
  });
}

void Run::start_workers() {
  for (auto& wp : g_workers) {
    Worker* w = wp.get();
    w->post([this, w] {
      std::minstd_rand rng(static_cast<unsigned>(base_ * 31 + w->id()));
      for (const ROp& r : ops_) {
        if (r.thread != w->id() || r.nop) continue;
        wait_ready(shared_, r);
        w->attach();
        exec_op(shared_, r);
        w->detach();
        const unsigned j = rng() % 100;
        if (j >= 40) std::this_thread::sleep_for(std::chrono::microseconds(rng() % 400));
      }
    });
  }
}

// ---- the end of a run (main thread, attached) ----

void Run::teardown() {
  read_events();
  drop_references();
  empty_keep();
  check_nothing_left();
}

// Every thread's locals, then the model's, then G.
void Run::drop_references() {
  {
    std::vector<PyObject*> drop;
    {
      std::lock_guard<std::mutex> l(shared_.mu);
      for (auto& vars : shared_.vars) {
        for (auto& [var, o] : vars) drop.push_back(o);
        vars.clear();
      }
    }
    for (PyObject* o : drop) Py_DECREF(o);
  }
  model_.drop_all_locals();
  PyDict_Clear(g_py.G);
}

// Lets go of keep and collects twice, until a round leaves keep empty (at
// most one round more than the case has Res objects).
void Run::empty_keep() {
  int res = 0;
  for (const auto& [uid, node] : model_.nodes()) res += node.kind == Kind::kRes;
  bool clean = false;
  for (int round = 0; round <= res + 1; round++) {
    read_events();
    update_garbage();
    read_keep();
    if (PyList_SetSlice(g_py.keep, 0, PY_SSIZE_T_MAX, nullptr) < 0) fail("clearing keep: " + py_error());
    model_.clear_kept();
    for (auto& [uid, node] : model_.nodes()) node.kept = false;
    full_collect();
    full_collect();
    read_events();
    if (PyList_Size(g_py.keep) == 0) {
      clean = true;
      break;
    }
  }
  if (!clean) fail("finalizers kept resurrecting objects after every collection");
}

// Every object of the case freed, finalized once, and untracked.
void Run::check_nothing_left() {
  for (const auto& [uid, node] : model_.nodes()) {
    if (probe_alive(uid)) fail(n(uid) + " is still alive after everything was dropped and two collections ran");
    if (fins(uid) != 1) fail("__del__ of " + n(uid) + " ran " + std::to_string(fins(uid)) + " times, not once");
  }
  PyObject* live = PyObject_CallFunction(g_py.live, "i", base_);
  if (live == nullptr) fail("gc.get_objects(): " + py_error());
  const Py_ssize_t nlive = PyList_GET_SIZE(live);
  std::string names;
  for (Py_ssize_t i = 0; i < nlive && i < 10; i++) names += " " + n(static_cast<int>(PyLong_AsLong(PyList_GET_ITEM(live, i))));
  Py_DECREF(live);
  if (nlive > 0) fail("objects of the case still tracked after the teardown:" + names);
}

void Run::cleanup() {
  std::vector<PyObject*> drop;
  {
    std::lock_guard<std::mutex> l(shared_.mu);
    for (auto& vars : shared_.vars) {
      for (auto& [var, o] : vars) drop.push_back(o);
      vars.clear();
    }
    for (auto& [uid, p] : shared_.probes) drop.push_back(p);
    shared_.probes.clear();
  }
  for (PyObject* o : drop) Py_DECREF(o);
  PyDict_Clear(g_py.G);
  PyList_SetSlice(g_py.keep, 0, PY_SSIZE_T_MAX, nullptr);
  PyList_SetSlice(g_py.events, 0, PY_SSIZE_T_MAX, nullptr);
  PyErr_Clear();
}

}  // namespace stressfork
