// stress/fork/main.cc -- stress_fork: rapidcheck against an embedded
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
//
// Files.  main.cc: this overview and main (the batches); options.{h,cc}:
// the command line and the replay command; context.{h,cc}: what a crash
// or a hang prints; interpreter.{h,cc}: the embedded interpreter and the
// helper module stress_fork_helpers.py (embedded at build time);
// worker.{h,cc}: the threads; operation.{h,cc}: one operation run for
// real; run.{h,cc}, run_checks.cc: one variant of one program and its
// checks; property.{h,cc}: the rapidcheck property; program.h: the
// programs and their model.
#include "interpreter.h"  // first: Python.h before any standard header

#include <rapidcheck.h>
#include <rapidcheck/detail/Configuration.h>
#include <rapidcheck/detail/Property.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "context.h"
#include "options.h"
#include "property.h"
#include "run.h"
#include "worker.h"

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
