// stress/fork/driver.cc -- stress_fork: rapidcheck against an embedded
// free-threaded CPython 3.13 (the tricolor fork, or stock as the control).
//
// What it does.  The program embeds libpython3.13t, starts N worker threads
// (--threads, default 3), each with its own PyThreadState, plus one
// collector thread, and runs a rapidcheck property over generated programs
// (program.h): operations, each owned by one thread, that create lists,
// dicts and instances of classes with __del__ (Res's __del__ resurrects
// self into a keep list), link them (list append or extend, d[k] = v,
// setattr: cycles), unlink, drop a thread's reference, send a reference to
// another thread, make WR(obj) weakrefs whose callback logs (uid, wr() is
// None), store into and delete from a globals dict G, read an instance's
// __dict__ (which materializes it from the inline values), and collect.
// Every __del__ and callback appends to one event log.  Lists and dicts
// carry a Tag (item 0, d['tag']) that dies with them: their weakref and
// their finalizer.  Each generated program runs twice:
//   1. SEQUENTIAL: the main thread dispatches the operations one at a time,
//      in program order, each to its owning thread (the others wait,
//      detached), and checks the invariants after every operation.  The
//      order is deterministic, so rapidcheck can shrink a failure.
//   2. CONCURRENT: every thread runs its own operations at once, with small
//      random sleeps, ordered only where the program needs it (a thread
//      waits for a reference sent to it; mutations of one container, and of
//      G, keep program order), while the collector thread runs gc.collect()
//      in a loop.  Checked once everything has stopped and one more
//      collection has run.
// Then every reference is dropped, the keep list emptied, and collections
// run until nothing is left (the teardown, checked too).  The interpreter
// is initialized once per process; each run uses fresh uids, so nothing a
// failed case leaves behind is mistaken for the next one's.
//
// Invariants ("strong" = reachable in the model from a thread's locals or
// G; "revived" = reachable only through keep):
//   * nothing strong is freed or finalized: its probe (a weakref the driver
//     holds) is alive, its __del__ has not run, and the heap walked from the
//     holders has exactly the model's objects, with the id() each had when
//     created, and exactly the model's links (contents intact);
//   * resurrected objects survive: keep holds only Res objects that were
//     garbage, each finalized exactly once, and what they reach is intact
//     (walked like the strong ones);
//   * every __del__ runs at most once, and by the end exactly once, per
//     object;
//   * completeness (sequential): an object unreachable from every holder
//     before Collect operation k is freed (probe dead, finalized) when
//     Collect k+1 returns -- each Collect is a whole collection that starts
//     after the call (gc.collect() is retried until one does: stock's
//     returns 0 while another thread collects);
//   * the teardown: two collections after the last resurrection leave
//     every probe dead and no Tag/Node/Res/WR of the run in gc.get_objects();
//   * weakrefs: a callback sees wr() is None (cleared before callbacks
//     run), runs at most once, and never after its WR was finalized
//     (sequential: a finalized WR was garbage, hence cleared); a strong WR
//     refers to its referent while the referent's probe is alive, and its
//     callback has run once the referent's probe was dead before the last
//     collection began, and not before that probe died.
// Left unchecked on purpose: when garbage goes between collections (the
// free-threaded build may queue a decref to the owning thread until the
// next collection), and whether a WR that is garbage but not yet collected
// gets its callback (a concurrent collection may let it float).
//
// Threads.  The main thread is detached except while it checks; a worker
// is attached only while it runs an operation, and waits (for a job, or for
// a reference sent to it) detached: a thread that waits attached would hold
// off every stop-the-world pause.  No C++ lock is held across a Python call.
//
// Usage: stress_fork [--threads N] [--seconds S] [--seed N] [--gc stw|concurrent]
//                    [--variant both|seq|conc] [--shrink-seconds S] [--batch N]
//                    [--without OP,...]
// The collector mode: --gc (passed as -X gc=... in the PyConfig), else
// PYTHON_GC; stock ignores both.  PYTHON_SAFEPOINT_STRESS=N works as for
// the fork's python3.13t.  Cases run in batches of --batch (10) rapidcheck
// cases; batch k uses seed N+k.  New batches start until S seconds have
// passed; the number of cases is printed.  --without leaves operation types
// out of the programs (to look past a known failure).
//
// Replay.  The first lines print seed=N and the command that replays the
// run: RC_PARAMS="seed=N" stress_fork --threads ... (--seed N does the
// same).  On a failure rapidcheck shrinks it (for at most --shrink-seconds)
// and prints the minimal program, as generated and as run ("t1: o3.a0 =
// o5"); the driver prints the RC_PARAMS="seed=<batch seed>" that replays
// the failing batch first, and rapidcheck prints at exit RC_PARAMS=
// "reproduce=..." that replays exactly the minimal case.  A failure of the
// concurrent variant depends on timing: its replay may need a few runs.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <rapidcheck.h>
#include <rapidcheck/detail/Configuration.h>
#include <rapidcheck/detail/Property.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <unordered_map>
#include <vector>

#include "program.h"

#ifndef TRICOLOR_PY_HOME
#error "TRICOLOR_PY_HOME: the interpreter's prefix (stress/fork/CMakeLists.txt sets it)"
#endif

namespace stressfork {
namespace {

using Clock = std::chrono::steady_clock;

// ---- options ---------------------------------------------------------------

struct Options {
  int threads = 3;
  double seconds = 30;
  double shrink_seconds = 120;
  bool seed_given = false;
  std::uint64_t seed = 0;
  std::string gc;  // "", "stw", "concurrent"
  bool sequential = true, concurrent = true;
  int batch = 10;
  unsigned without = 0;      // operation types not generated (--without)
  std::string without_arg;
  std::string argv0;
};

Options g_opt;

[[noreturn]] void usage(const char* msg) {
  std::fprintf(stderr,
               "stress_fork: %s\nusage: stress_fork [--threads N] [--seconds S] [--seed N] "
               "[--gc stw|concurrent] [--variant both|seq|conc] [--shrink-seconds S] [--batch N]\n"
               "  [--without OP,...]  (OP: link unlink drop hand weakref collect setglobal delglobal dictview)\n",
               msg);
  std::exit(2);
}

Options parse_args(int argc, char** argv) {
  Options o;
  o.argv0 = argv[0];
  for (int i = 1; i < argc; i++) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value for " + a).c_str());
      return argv[++i];
    };
    try {
      if (a == "--threads") {
        o.threads = std::stoi(value());
        if (o.threads < 1 || o.threads > 16) usage("--threads: 1..16");
      } else if (a == "--seconds") {
        o.seconds = std::stod(value());
      } else if (a == "--shrink-seconds") {
        o.shrink_seconds = std::stod(value());
      } else if (a == "--seed") {
        o.seed = std::stoull(value());
        o.seed_given = true;
      } else if (a == "--gc") {
        o.gc = value();
        if (o.gc != "stw" && o.gc != "concurrent") usage("--gc: stw or concurrent");
      } else if (a == "--variant") {
        const std::string v = value();
        if (v == "both") {
          o.sequential = o.concurrent = true;
        } else if (v == "seq") {
          o.sequential = true;
          o.concurrent = false;
        } else if (v == "conc") {
          o.sequential = false;
          o.concurrent = true;
        } else {
          usage("--variant: both, seq or conc");
        }
      } else if (a == "--without") {
        o.without_arg = value();
        std::stringstream ss(o.without_arg);
        std::string name;
        while (std::getline(ss, name, ',')) {
          int t = 0;
          while (t < kOpTypes && name != op_name(static_cast<OpType>(t))) t++;
          if (t == kOpTypes || t == static_cast<int>(OpType::kCreate)) usage(("--without: bad operation " + name).c_str());
          o.without |= 1u << t;
        }
      } else if (a == "--batch") {
        o.batch = std::stoi(value());
        if (o.batch < 1) usage("--batch: at least 1");
      } else if (a == "-h" || a == "--help") {
        usage("help");
      } else {
        usage(("unknown argument " + a).c_str());
      }
    } catch (const std::logic_error&) {
      usage(("bad value for " + a).c_str());
    }
  }
  return o;
}

std::string replay_command(std::uint64_t seed) {
  std::ostringstream os;
  for (const char* var : {"PYTHON_SAFEPOINT_STRESS", "PYTHON_GC"}) {
    const char* v = std::getenv(var);
    if (v != nullptr && *v != '\0') os << var << "=" << v << " ";
  }
  os << "RC_PARAMS=\"seed=" << seed << "\" " << g_opt.argv0 << " --threads " << g_opt.threads
     << " --seconds " << g_opt.seconds;
  if (!g_opt.gc.empty()) os << " --gc " << g_opt.gc;
  if (!(g_opt.sequential && g_opt.concurrent)) os << " --variant " << (g_opt.sequential ? "seq" : "conc");
  if (g_opt.batch != 10) os << " --batch " << g_opt.batch;
  if (!g_opt.without_arg.empty()) os << " --without " << g_opt.without_arg;
  return os.str();
}

// What a crash or a hang prints: the seed and the program running.
std::mutex g_context_mu;
std::string g_context;        // guarded by g_context_mu
// A copy for the signal handler; copies are freed eight generations later
// (a handler may still be reading a recent one).
const char* volatile g_crash_text = nullptr;
char* g_crash_ring[8] = {};
unsigned g_crash_next = 0;

void set_context(const std::string& s) {
  std::lock_guard<std::mutex> l(g_context_mu);
  g_context = s;
  char* copy = static_cast<char*>(std::malloc(s.size() + 1));
  if (copy == nullptr) return;
  std::memcpy(copy, s.c_str(), s.size() + 1);
  g_crash_text = copy;
  char*& slot = g_crash_ring[g_crash_next++ % 8];
  std::free(slot);
  slot = copy;
}

extern "C" void on_fatal_signal(int sig) {
  const char* t = g_crash_text;
  const char head[] = "\nstress_fork: fatal signal; the case that was running:\n";
  ssize_t ignored = write(2, head, sizeof head - 1);
  if (t != nullptr) ignored = write(2, t, std::strlen(t));
  (void)ignored;
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

[[noreturn]] void hang(const std::string& what) {
  std::lock_guard<std::mutex> l(g_context_mu);
  std::fprintf(stderr, "\nstress_fork: HANG: %s (waited 120 s)\n%s\n", what.c_str(), g_context.c_str());
  std::fflush(stderr);
  _exit(3);
}

constexpr auto kHangTimeout = std::chrono::seconds(120);

// ---- the interpreter ---------------------------------------------------------

const char kHelpers[] = R"PY(
import gc, sys, time, weakref, functools, traceback

events = []   # (0, uid): a __del__ ran; (1, uid, dead): the callback of WR uid ran, dead = wr() is None
keep = []     # what Res.__del__ saved
G = {}        # the globals the program stores into
started = 0   # collections started / finished, from gc.callbacks
stopped = 0

def _on_gc(phase, info):
    global started, stopped
    if phase == "start":
        started += 1
    else:
        stopped += 1

gc.callbacks.append(_on_gc)

class Tag:
    """Item 0 of a List, d['tag'] of a Dict: dies with its container."""
    __slots__ = ("uid", "__weakref__")
    def __init__(self, uid):
        self.uid = uid
    def __del__(self):
        events.append((0, self.uid))

class Node:
    def __init__(self, uid):
        self.uid = uid
    def __del__(self):
        events.append((0, self.uid))

class Res(Node):
    def __del__(self):
        events.append((0, self.uid))
        keep.append(self)

def _callback(uid, wr):
    events.append((1, uid, wr() is None))

class WR(weakref.ref):
    __slots__ = ("uid", "__weakref__")
    def __new__(cls, ob, uid):
        self = weakref.ref.__new__(cls, ob, functools.partial(_callback, uid))
        self.uid = uid
        return self
    def __init__(self, ob, uid):
        pass
    def __del__(self):
        events.append((0, self.uid))

def full_collect():
    """Returns once a collection that started after the call has finished
    (stock's gc.collect() returns 0 while another thread collects)."""
    s = started
    while True:
        gc.collect()
        if stopped > s:
            return
        time.sleep(0.0002)

def uid_of(o):
    t = type(o)
    if t is list:
        return o[0].uid
    if t is dict:
        return o["tag"].uid
    return o.uid

_KINDS = {list: 0, dict: 1, Node: 2, Res: 3, WR: 4}
_ATTRS = ("a0", "a1", "a2", "a3")   # the only attributes programs set
_MISSING = object()

def snapshot(roots, nkeep, base):
    """uid -> (id, kind, [(key or None, uid)]) of everything reachable from
    roots, G and keep[:nkeep] (what the caller has read of keep; later
    entries may be arriving from a collection on another thread) through
    the program's links."""
    out = {}
    stack = list(roots)
    stack.extend(G.values())
    stack.extend(o for o in keep[:nkeep] if uid_of(o) >= base)
    while stack:
        o = stack.pop()
        u = uid_of(o)
        prev = out.get(u)
        if prev is not None:
            if prev[0] != id(o):
                raise AssertionError(f"two objects carry uid {u}")
            continue
        t = type(o)
        if t is list:
            kids = [(None, x) for x in o[1:]]
        elif t is dict:
            kids = sorted(((k, v) for k, v in o.items() if k != "tag"), key=lambda kv: kv[0])
        elif t is WR:
            kids = []
        else:
            # getattr, not vars(o): reading __dict__ would materialize it
            # (the DictView operation does that on purpose)
            kids = [(k, v) for k in _ATTRS if (v := getattr(o, k, _MISSING)) is not _MISSING]
        out[u] = (id(o), _KINDS.get(t, -1), [(k, uid_of(v)) for k, v in kids])
        stack.extend(v for _, v in kids)
    return out

def keep_uids():
    return [uid_of(o) for o in list(keep)]

def live(base):
    """uids >= base of the program's objects still tracked."""
    return sorted(o.uid for o in gc.get_objects()
                  if type(o) in (Tag, Node, Res, WR) and o.uid >= base)

def format_exc(e):
    return "".join(traceback.format_exception(e)).rstrip()

def mode():
    if hasattr(gc, "get_tricolor_stats"):
        return "tricolor fork, gc mode " + gc.get_tricolor_stats()["mode"]
    return "stock CPython " + sys.version.split()[0]
)PY";

struct Py {
  PyObject* dict = nullptr;  // the helper module's namespace (borrowed refs below)
  PyObject *events, *keep, *G, *Tag, *Node, *Res, *WR;
  PyObject *full_collect, *snapshot, *keep_uids, *live, *format_exc, *mode;
  PyInterpreterState* interp = nullptr;
  PyThreadState* main_ts = nullptr;  // while the main thread is detached
} g_py;

// The main thread attaches only to check.
struct MainAttached {
  MainAttached() { PyEval_RestoreThread(g_py.main_ts); }
  ~MainAttached() { g_py.main_ts = PyEval_SaveThread(); }
  MainAttached(const MainAttached&) = delete;
  MainAttached& operator=(const MainAttached&) = delete;
};

// The pending exception as text (clears it).
std::string py_error() {
  PyObject* e = PyErr_GetRaisedException();
  if (e == nullptr) return "(no exception set)";
  std::string s = "(unformattable exception)";
  PyObject* t = PyObject_CallOneArg(g_py.format_exc, e);
  if (t != nullptr) {
    const char* c = PyUnicode_AsUTF8(t);
    if (c != nullptr) s = c;
    Py_DECREF(t);
  }
  PyErr_Clear();
  Py_DECREF(e);
  return s;
}

PyObject* helper(const char* name) {
  PyObject* o = PyDict_GetItemString(g_py.dict, name);
  if (o == nullptr) {
    std::fprintf(stderr, "stress_fork: helper %s missing\n", name);
    std::exit(2);
  }
  return o;
}

void init_python(const Options& o) {
  PyConfig config;
  PyConfig_InitPythonConfig(&config);
  config.site_import = 0;
  config.parse_argv = 0;
  config.install_signal_handlers = 0;
  PyStatus st = PyConfig_SetBytesString(&config, &config.home, TRICOLOR_PY_HOME);
  if (!PyStatus_Exception(st)) st = PyConfig_SetBytesString(&config, &config.program_name, o.argv0.c_str());
  if (!PyStatus_Exception(st) && !o.gc.empty()) {
    const std::wstring x = L"gc=" + std::wstring(o.gc.begin(), o.gc.end());
    st = PyWideStringList_Append(&config.xoptions, x.c_str());
  }
  if (!PyStatus_Exception(st)) st = Py_InitializeFromConfig(&config);
  PyConfig_Clear(&config);
  if (PyStatus_Exception(st)) Py_ExitStatusException(st);

  PyObject* mod = PyImport_AddModuleRef("stress_fork_helpers");
  if (mod == nullptr) {
    PyErr_Print();
    std::exit(2);
  }
  g_py.dict = PyModule_GetDict(mod);  // the module stays in sys.modules
  Py_DECREF(mod);
  PyObject* r = PyRun_String(kHelpers, Py_file_input, g_py.dict, g_py.dict);
  if (r == nullptr) {
    PyErr_Print();
    std::exit(2);
  }
  Py_DECREF(r);
  g_py.events = helper("events");
  g_py.keep = helper("keep");
  g_py.G = helper("G");
  g_py.Tag = helper("Tag");
  g_py.Node = helper("Node");
  g_py.Res = helper("Res");
  g_py.WR = helper("WR");
  g_py.full_collect = helper("full_collect");
  g_py.snapshot = helper("snapshot");
  g_py.keep_uids = helper("keep_uids");
  g_py.live = helper("live");
  g_py.format_exc = helper("format_exc");
  g_py.mode = helper("mode");
  g_py.interp = PyInterpreterState_Get();
}

std::string interpreter_mode() {
  PyObject* m = PyObject_CallNoArgs(g_py.mode);
  if (m == nullptr) return "? (" + py_error() + ")";
  std::string s = PyUnicode_AsUTF8(m);
  Py_DECREF(m);
  return s;
}

// ---- threads -----------------------------------------------------------------

// A thread with its own PyThreadState, created detached; runs jobs (which
// attach and detach themselves) posted by the main thread.
class Worker {
 public:
  explicit Worker(int id) : id_(id), th_([this] { main(); }) {}
  ~Worker() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    th_.join();
  }
  void post(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> l(mu_);
      job_ = std::move(job);
      has_job_ = true;
      done_ = false;
    }
    cv_.notify_all();
  }
  // Called by the main thread, detached.
  void wait() {
    std::unique_lock<std::mutex> l(mu_);
    if (!cv_.wait_for(l, kHangTimeout, [&] { return done_; })) {
      l.unlock();
      hang("waiting for thread " + std::to_string(id_));
    }
  }
  void attach() { PyEval_RestoreThread(ts_); }
  void detach() { ts_ = PyEval_SaveThread(); }
  int id() const { return id_; }

 private:
  void main() {
    ts_ = PyThreadState_New(g_py.interp);  // bound to this thread, detached
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] { return has_job_ || stop_; });
        if (!has_job_) break;
        job = std::move(job_);
        has_job_ = false;
      }
      job();
      {
        std::lock_guard<std::mutex> l(mu_);
        done_ = true;
      }
      cv_.notify_all();
    }
    PyEval_RestoreThread(ts_);
    PyThreadState_Clear(ts_);
    PyThreadState_DeleteCurrent();
  }

  int id_;
  PyThreadState* ts_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  std::function<void()> job_;
  bool has_job_ = false, done_ = true, stop_ = false;
  std::thread th_;  // last: started once the rest is initialized
};

std::vector<std::unique_ptr<Worker>> g_workers;  // the program's threads
std::unique_ptr<Worker> g_collector;             // the concurrent variant's collecting thread

// ---- one run of a program ----------------------------------------------------

// State shared by the threads of one run.  mu guards the maps; no Python
// call is made while holding it.
struct Shared {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::unordered_map<int, PyObject*>> vars;  // per thread: local id -> strong ref
  std::unordered_map<int, int> seq_done;                 // uid (0: G) -> mutations done
  std::map<int, PyObject*> probes;                       // uid -> weakref.ref (strong)
  std::map<int, std::uintptr_t> addrs;                   // uid -> id(obj)
  std::map<int, std::uintptr_t> probe_addrs;             // uid -> id() of what the probe refers to (the Tag for lists/dicts)
  std::vector<std::string> errors;                       // Python exceptions raised by operations
};

// The object a weakref to a node refers to: the node, or its Tag.
PyObject* weak_target(PyObject* obj, Kind k) {
  if (k == Kind::kList) return PyList_GetItemRef(obj, 0);
  if (k == Kind::kDict) {
    PyObject* t = nullptr;
    if (PyDict_GetItemStringRef(obj, "tag", &t) <= 0) {
      if (!PyErr_Occurred()) PyErr_SetString(PyExc_KeyError, "tag");
      return nullptr;
    }
    return t;
  }
  return Py_NewRef(obj);
}

PyObject* make_object(Kind k, int uid) {
  switch (k) {
    case Kind::kList:
    case Kind::kDict: {
      PyObject* tag = PyObject_CallFunction(g_py.Tag, "i", uid);
      if (tag == nullptr) return nullptr;
      PyObject* o = k == Kind::kList ? PyList_New(0) : PyDict_New();
      int rc = -1;
      if (o != nullptr) rc = k == Kind::kList ? PyList_Append(o, tag) : PyDict_SetItemString(o, "tag", tag);
      Py_DECREF(tag);
      if (rc < 0) Py_CLEAR(o);
      return o;
    }
    case Kind::kInst: return PyObject_CallFunction(g_py.Node, "i", uid);
    case Kind::kRes: return PyObject_CallFunction(g_py.Res, "i", uid);
    case Kind::kWeak: break;
  }
  PyErr_SetString(PyExc_SystemError, "make_object: bad kind");
  return nullptr;
}

// Blocks (detached) until r can run on its thread: the locals it uses have
// arrived and the earlier mutations of its container (or of G) are done.
void wait_ready(Shared& s, const ROp& r) {
  if (r.nop) return;
  std::vector<int> need;
  switch (r.type) {
    case OpType::kLink: need = {r.var, r.var2}; break;
    case OpType::kWeakref: need = {r.var2}; break;
    case OpType::kUnlink:
    case OpType::kDrop:
    case OpType::kHand:
    case OpType::kSetGlobal:
    case OpType::kDictView: need = {r.var}; break;
    default: break;
  }
  int seq_uid = -1;
  if (r.type == OpType::kLink || r.type == OpType::kUnlink) seq_uid = r.uid;
  if (r.type == OpType::kSetGlobal || r.type == OpType::kDelGlobal) seq_uid = 0;
  std::unique_lock<std::mutex> l(s.mu);
  auto& mine = s.vars[static_cast<std::size_t>(r.thread)];
  const bool ok = s.cv.wait_for(l, kHangTimeout, [&] {
    for (int v : need) {
      if (!mine.count(v)) return false;
    }
    return seq_uid < 0 || s.seq_done[seq_uid] == r.seq;
  });
  if (!ok) {
    l.unlock();
    hang("thread " + std::to_string(r.thread) + " waiting to run: " + r.text);
  }
}

// Runs r on the calling thread, attached.
void exec_op(Shared& s, const ROp& r) {
  if (r.nop) return;
  const auto t = static_cast<std::size_t>(r.thread);
  auto get = [&](int var) {
    std::lock_guard<std::mutex> l(s.mu);
    return s.vars[t].at(var);
  };
  auto bump = [&](int uid) {
    {
      std::lock_guard<std::mutex> l(s.mu);
      s.seq_done[uid]++;
    }
    s.cv.notify_all();
  };
  auto fail = [&] {
    const std::string e = py_error();
    std::lock_guard<std::mutex> l(s.mu);
    s.errors.push_back("operation \"" + r.text + "\" raised:\n" + e);
  };
  auto add = [&](PyObject* obj, int uid, int var) {
    PyObject* target = weak_target(obj, r.type == OpType::kWeakref ? Kind::kWeak : r.kind);
    PyObject* probe = target != nullptr ? PyWeakref_NewRef(target, nullptr) : nullptr;
    if (probe == nullptr) fail();
    std::lock_guard<std::mutex> l(s.mu);
    s.vars[t][var] = obj;
    s.addrs[uid] = reinterpret_cast<std::uintptr_t>(obj);
    s.probe_addrs[uid] = reinterpret_cast<std::uintptr_t>(target);
    if (probe != nullptr) s.probes[uid] = probe;
    // target: a borrowed address from here on (obj or its Tag keeps it alive)
    Py_XDECREF(target);
  };
  switch (r.type) {
    case OpType::kCreate: {
      PyObject* o = make_object(r.kind, r.uid);
      if (o == nullptr) {
        fail();
        o = Py_NewRef(Py_None);  // keeps the program's locals in step
      }
      add(o, r.uid, r.var);
      break;
    }
    case OpType::kWeakref: {
      PyObject* target = weak_target(get(r.var2), r.kind2);
      PyObject* w = target != nullptr ? PyObject_CallFunction(g_py.WR, "Oi", target, r.uid) : nullptr;
      Py_XDECREF(target);
      if (w == nullptr) {
        fail();
        w = Py_NewRef(Py_None);
      }
      add(w, r.uid, r.var);
      break;
    }
    case OpType::kLink: {
      PyObject* src = get(r.var);
      PyObject* dst = get(r.var2);
      int rc;
      if (r.kind == Kind::kList && r.key == "append") {
        rc = PyList_Append(src, dst);
      } else if (r.kind == Kind::kList) {
        PyObject* one = PyTuple_Pack(1, dst);
        PyObject* x = one != nullptr ? PyObject_CallMethod(src, "extend", "(O)", one) : nullptr;
        Py_XDECREF(one);
        rc = x != nullptr ? 0 : -1;
        Py_XDECREF(x);
      } else if (r.kind == Kind::kDict) {
        rc = PyDict_SetItemString(src, r.key.c_str(), dst);
      } else {
        rc = PyObject_SetAttrString(src, r.key.c_str(), dst);
      }
      if (rc < 0) fail();
      bump(r.uid);
      break;
    }
    case OpType::kUnlink: {
      PyObject* src = get(r.var);
      int rc;
      if (r.kind == Kind::kList) {
        rc = PySequence_DelItem(src, r.index);
      } else if (r.kind == Kind::kDict) {
        rc = PyDict_DelItemString(src, r.key.c_str());
      } else {
        rc = PyObject_DelAttrString(src, r.key.c_str());
      }
      if (rc < 0) fail();
      bump(r.uid);
      break;
    }
    case OpType::kDrop: {
      PyObject* o;
      {
        std::lock_guard<std::mutex> l(s.mu);
        auto it = s.vars[t].find(r.var);
        o = it->second;
        s.vars[t].erase(it);
      }
      Py_DECREF(o);  // may run finalizers: outside the lock
      break;
    }
    case OpType::kHand: {
      {
        std::lock_guard<std::mutex> l(s.mu);
        auto it = s.vars[t].find(r.var);
        PyObject* o = it->second;
        if (r.copy) {
          Py_INCREF(o);
        } else {
          s.vars[t].erase(it);
        }
        s.vars[static_cast<std::size_t>(r.to)][r.var2] = o;
      }
      s.cv.notify_all();
      break;
    }
    case OpType::kCollect: {
      PyObject* x = PyObject_CallNoArgs(g_py.full_collect);
      if (x == nullptr) fail();
      Py_XDECREF(x);
      break;
    }
    case OpType::kSetGlobal: {
      if (PyDict_SetItemString(g_py.G, r.key.c_str(), get(r.var)) < 0) fail();
      bump(0);
      break;
    }
    case OpType::kDelGlobal: {
      if (PyDict_DelItemString(g_py.G, r.key.c_str()) < 0) fail();
      bump(0);
      break;
    }
    case OpType::kDictView: {
      PyObject* d = PyObject_GetAttrString(get(r.var), "__dict__");
      if (d == nullptr) fail();
      Py_XDECREF(d);
      break;
    }
  }
}

// What the passing runs exercised (printed at the end).
struct Totals {
  long runs = 0, ops = 0, objects = 0, collects = 0, finalizers = 0, callbacks = 0, resurrected = 0;
} g_totals;
bool g_failed = false;  // a failure was found: rapidcheck is shrinking

// A failed check: the case is a counterexample.
struct Violation {
  std::string what;
};

// One variant of one program, from the first operation to the teardown.
class Run {
 public:
  Run(const std::vector<Op>& program, bool concurrent, int uid_base)
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

  // The program as it runs, one line per operation; `mark` flags one.
  std::string listing(int mark = -1) const {
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

  // Returns the violations (empty: the run passed).
  std::vector<std::string> run() {
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
    if (violations_.empty() && !g_failed) {
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
    return violations_;
  }

 private:
  // ---- execution ----

  void run_sequential() {
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

  void run_concurrent() {
    // The final model: resolve everything (program order).
    for (std::size_t i = 0; i < ops_.size(); i++) model_.resolve(original_op(i));
    std::atomic<bool> stop{false};
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

  const Op& original_op(std::size_t i) const { return program_op_.at(i); }

  // ---- checks (main thread, attached) ----

  void fail(const std::string& what) { throw Violation{what}; }

  std::string n(int uid) const { return model_.name(uid); }
  int fins(int uid) const {
    auto it = fin_count_.find(uid);
    return it == fin_count_.end() ? 0 : it->second;
  }
  int cbs(int uid) const {
    auto it = cb_count_.find(uid);
    return it == cb_count_.end() ? 0 : it->second;
  }

  void full_collect() {
    PyObject* x = PyObject_CallNoArgs(g_py.full_collect);
    if (x == nullptr) fail("gc.collect() raised:\n" + py_error());
    Py_DECREF(x);
  }

  bool probe_alive(int uid, std::uintptr_t* addr = nullptr) {
    auto it = shared_.probes.find(uid);
    if (it == shared_.probes.end()) fail(n(uid) + " has no probe (its creation failed)");
    PyObject* o = nullptr;
    const int rc = PyWeakref_GetRef(it->second, &o);
    if (rc < 0) fail("PyWeakref_GetRef: " + py_error());
    if (addr != nullptr) *addr = reinterpret_cast<std::uintptr_t>(o);
    Py_XDECREF(o);
    return rc == 1;
  }

  std::set<int> dead_probes() {
    std::set<int> dead;
    for (const auto& [uid, p] : shared_.probes) {
      if (!probe_alive(uid)) dead.insert(uid);
    }
    return dead;
  }

  // Reads the events appended since the last read.
  void read_events() {
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
  std::set<int> update_garbage() {
    const std::set<int> strong = model_.reachable(false);
    for (auto& [uid, node] : model_.nodes()) {
      if (!strong.count(uid)) node.ever_garbage = true;
    }
    return strong;
  }

  // Reads the keep list; what is new becomes a holder in the model.
  void read_keep() {
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
  void compare_heap(const std::set<int>& all) {
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
      if (uid < base_ || !model_.nodes().count(uid)) {
        err = "the heap reaches uid " + std::to_string(uid) + ", not of this case";
        break;
      }
      const MNode& node = model_.nodes().at(uid);
      if (!all.count(uid)) {
        err = "the heap still reaches " + n(uid) + ", which the model says is unreachable";
        break;
      }
      const auto addr = static_cast<std::uintptr_t>(PyLong_AsUnsignedLongLong(PyTuple_GetItem(value, 0)));
      const long kind = PyLong_AsLong(PyTuple_GetItem(value, 1));
      PyObject* edges = PyTuple_GetItem(value, 2);
      if (addr != shared_.addrs[uid]) {
        err = n(uid) + " is reached at another address than it was created at";
      } else if (kind != static_cast<long>(node.kind)) {
        err = n(uid) + " has changed type";
      }
      std::vector<std::pair<std::string, int>> got, want;
      for (Py_ssize_t i = 0; err.empty() && i < PyList_GET_SIZE(edges); i++) {
        PyObject* e = PyList_GET_ITEM(edges, i);
        PyObject* k = PyTuple_GetItem(e, 0);
        got.emplace_back(k == Py_None ? "" : PyUnicode_AsUTF8(k),
                         static_cast<int>(PyLong_AsLong(PyTuple_GetItem(e, 1))));
      }
      for (int c : node.items) want.emplace_back("", c);
      for (const auto& [k, c] : node.slots) want.emplace_back(k, c);
      if (err.empty() && got != want) {
        auto show = [&](const std::vector<std::pair<std::string, int>>& v) {
          std::string s = "[";
          for (const auto& [k, c] : v) s += (s.size() > 1 ? ", " : "") + (k.empty() ? "" : k + ": ") + n(c);
          return s + "]";
        };
        err = "the contents of " + n(uid) + " are " + show(got) + ", the model says " + show(want);
      }
    }
    Py_DECREF(snap);
    if (!err.empty()) fail(err);
    for (int uid : all) {
      if (!found.count(uid)) fail(n(uid) + " is reachable in the model but the heap does not reach it");
    }
  }

  // The invariants, after an operation (sequential) or at the end
  // (concurrent).  after_collect: a whole collection ran since the last
  // check.
  void check(bool after_collect) {
    read_events();
    const std::set<int> strong = update_garbage();
    read_keep();
    const std::set<int> all = model_.reachable(true);
    for (auto& [uid, node] : model_.nodes()) {
      if (!all.count(uid)) {
        if (node.garbage_since < 0) node.garbage_since = collections_;
      } else {
        node.garbage_since = -1;
      }
    }
    if (!shared_.errors.empty()) fail(shared_.errors.front());
    compare_heap(all);
    for (int uid : strong) {
      if (fins(uid) > 0) fail("__del__ of " + n(uid) + " ran, but it is reachable");
      if (!probe_alive(uid)) fail(n(uid) + " is reachable, but its weakref is dead (freed, or seen as garbage)");
    }
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
    if (after_collect) {
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
    dead_before_ = dead_probes();
  }

  // Drops everything, empties keep (until no finalizer resurrects any
  // more) and checks that two collections leave nothing of the case.
  void teardown() {
    read_events();
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

  // Releases the run's references whatever happened (main, attached).
  void cleanup() {
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

  bool concurrent_;
  Model model_;
  int base_;
  std::vector<Op> program_op_;
  std::vector<ROp> ops_;
  Shared shared_;
  std::vector<std::string> violations_;
  int at_ = -1;
  int collections_ = 0;  // Collect operations done (sequential)
  Py_ssize_t events_seen_ = 0;
  Py_ssize_t keep_read_ = 0;  // entries of keep the last read_keep() saw
  std::map<int, int> fin_count_, cb_count_;
  std::set<int> ever_kept_;
  std::set<int> dead_before_;
};

// ---- the property --------------------------------------------------------------

std::atomic<int> g_next_uid{1};
long g_cases = 0;              // cases run to the end before the first failure
Clock::time_point g_start, g_shrink_deadline;
std::uint64_t g_batch_seed = 0;

std::string run_variant(const std::vector<Op>& program, bool concurrent, std::string* listing) {
  const int base = g_next_uid.fetch_add(static_cast<int>(program.size()) + 1);
  Run run(program, concurrent, base);
  *listing = run.listing();
  set_context("seed=" + std::to_string(g_batch_seed) + " (replay: " + replay_command(g_batch_seed) + ")\n" +
              (concurrent ? "concurrent" : "sequential") + " variant of:\n" + *listing);
  const std::vector<std::string> v = run.run();
  if (v.empty()) return "";
  std::string s;
  for (const std::string& x : v) s += x + "\n";
  return s;
}

// The smallest failing program so far and its message: once the shrinking
// time is up, every other program passes without running (rapidcheck stops
// shrinking) and this one fails again without running (rapidcheck reports
// it).
bool g_failed_concurrent = false;  // which variant failed first
std::vector<Op> g_last_failing;
std::string g_last_message;

void property() {
  if (!g_failed && std::chrono::duration<double>(Clock::now() - g_start).count() > g_opt.seconds) return;
  const std::vector<Op> program = *gen_program(g_opt.threads, g_opt.without);
  if (g_failed && Clock::now() > g_shrink_deadline) {
    if (program == g_last_failing) RC_FAIL(g_last_message);
    return;
  }
  // While shrinking, only the variant that failed runs (twice as many
  // attempts in the time).
  std::string listing, failure;
  bool concurrent = false;
  if (g_opt.sequential && !(g_failed && g_failed_concurrent)) failure = run_variant(program, false, &listing);
  if (failure.empty() && g_opt.concurrent && !(g_failed && !g_failed_concurrent)) {
    concurrent = true;
    failure = run_variant(program, true, &listing);
  }
  if (failure.empty()) {
    if (!g_failed) g_cases++;
    return;
  }
  std::ostringstream msg;
  msg << failure << "program (" << g_opt.threads << " threads; o<k> is the k-th object the program creates; "
      << "locals are per thread, G is a dict, keep is the resurrection list):\n" << listing;
  if (!g_failed) {
    g_failed = true;
    g_failed_concurrent = concurrent;
    g_shrink_deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(g_opt.shrink_seconds));
    std::cerr << "\nstress_fork: FAILURE (before shrinking), batch seed=" << g_batch_seed << ":\n"
              << msg.str() << "shrinking..." << std::endl;
  }
  g_last_failing = program;
  g_last_message = msg.str();
  RC_FAIL(msg.str());
}

}  // namespace
}  // namespace stressfork

int main(int argc, char** argv) {
  using namespace stressfork;
  g_opt = parse_args(argc, argv);
  // --seed is RC_PARAMS' seed (which wins over a seed already there).
  if (g_opt.seed_given) {
    const char* old = std::getenv("RC_PARAMS");
    const std::string p = std::string(old != nullptr ? old : "") + " seed=" + std::to_string(g_opt.seed);
    setenv("RC_PARAMS", p.c_str(), 1);
  }
  const rc::detail::Configuration& cfg = rc::detail::configuration();
  const std::uint64_t seed = cfg.testParams.seed;
  if (cfg.reproduce.empty()) {
    std::cerr << "stress_fork: seed=" << seed << "\nreplay: " << replay_command(seed) << std::endl;
  } else {
    std::cerr << "stress_fork: replaying the case of RC_PARAMS=\"reproduce=...\"" << std::endl;
  }
  std::signal(SIGSEGV, on_fatal_signal);
  std::signal(SIGBUS, on_fatal_signal);
  std::signal(SIGABRT, on_fatal_signal);
  std::signal(SIGFPE, on_fatal_signal);
  std::signal(SIGILL, on_fatal_signal);

  init_python(g_opt);
  std::cerr << "interpreter: " << interpreter_mode() << " (" << TRICOLOR_PY_HOME << "), threads " << g_opt.threads
            << ", variants" << (g_opt.sequential ? " sequential" : "") << (g_opt.concurrent ? " concurrent" : "")
            << std::endl;
  g_py.main_ts = PyEval_SaveThread();
  for (int i = 0; i < g_opt.threads; i++) g_workers.push_back(std::make_unique<Worker>(i));
  g_collector = std::make_unique<Worker>(g_opt.threads);

  g_start = Clock::now();
  rc::detail::TestMetadata meta;
  meta.id = "stress_fork";
  meta.description = "stress_fork";
  const auto prop = rc::detail::toProperty([] { property(); });
  int batches = 0;
  bool ok = true;
  for (std::uint64_t k = 0;; k++) {
    if (k > 0 && std::chrono::duration<double>(Clock::now() - g_start).count() > g_opt.seconds) break;
    rc::detail::TestParams params = cfg.testParams;
    params.seed = seed + k;
    params.maxSuccess = g_opt.batch;
    g_batch_seed = params.seed;
    const rc::detail::TestResult result = rc::detail::checkProperty(prop, meta, params);
    batches++;
    rc::detail::FailureResult failure;
    if (result.match(failure)) {
      ok = false;
      std::cerr << "\nstress_fork: FAILED in batch " << k << " (batch seed=" << params.seed << ") after " << g_cases
                << " passing cases\n";
      rc::detail::printResultMessage(failure, std::cerr);
      std::cerr << "\nreplay the failing batch: " << replay_command(params.seed)
                << "\n(rapidcheck prints RC_PARAMS=\"reproduce=...\" below, which replays the minimal case alone)"
                << std::endl;
      break;
    }
    rc::detail::GaveUpResult gave_up;
    rc::detail::Error error;
    if (!cfg.reproduce.empty() && result.match(error)) {
      std::cerr << "stress_fork: the case of reproduce= passed this time (" << error.description << ")" << std::endl;
      break;
    }
    if (result.match(gave_up) || result.match(error)) {
      ok = false;
      rc::detail::printResultMessage(result, std::cerr);
      std::cerr << std::endl;
      break;
    }
    if (!cfg.reproduce.empty()) break;  // a reproduce= run replays one case
  }
  const double secs = std::chrono::duration<double>(Clock::now() - g_start).count();
  std::cerr << "stress_fork: " << (ok ? "PASSED" : "FAILED") << ": " << g_cases << " cases in " << batches
            << " batches, " << secs << " s; seed=" << seed << "\n  passing runs (of each variant): "
            << g_totals.runs << ", operations " << g_totals.ops << ", objects " << g_totals.objects
            << ", gc.collect() operations " << g_totals.collects << ", finalizers " << g_totals.finalizers
            << ", weakref callbacks " << g_totals.callbacks << ", resurrections " << g_totals.resurrected
            << std::endl;

  g_collector.reset();
  g_workers.clear();
  PyEval_RestoreThread(g_py.main_ts);
  if (PyObject* c = PyDict_GetItemString(g_py.dict, "stopped")) {
    std::cerr << "  collections the interpreter ran (gc.callbacks): " << PyLong_AsLong(c) << std::endl;
  }
  if (ok) {
    if (Py_FinalizeEx() < 0) {
      std::cerr << "stress_fork: Py_FinalizeEx failed" << std::endl;
      return 1;
    }
    return 0;
  }
  return 1;  // no finalization: the heap may be what failed
}
