// stress/fork/run.h -- one variant (sequential or concurrent) of one
// generated program, from its first operation to its teardown, checked
// against the model of program.h.  The invariants are at the top of
// main.cc.
//
// A run, step by step (run()):
//   1. execute: sequential -- each operation on its thread, one at a time,
//      then check() with after_collect for a Collect; concurrent -- every
//      worker runs its own operations at once while the collector thread
//      collects in a loop, then (quiescent) one more collection and check();
//   2. teardown(): drop every reference, empty keep until no finalizer
//      resurrects any more, and check that two collections leave nothing;
//   3. cleanup(): release the run's references whatever happened;
//   4. record_totals() of a passing run.
// check() is itself four steps: read what happened (events, keep), note
// what became garbage, compare_heap() with the model, then
// check_strong(), check_weakrefs() and, after a collection,
// check_completeness().  Execution is run.cc, the checks run_checks.cc.
#pragma once

#include "interpreter.h"

#include <atomic>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "operation.h"
#include "program.h"

namespace stressfork {

// What the passing runs exercised (printed at the end).
struct Totals {
  long runs = 0, ops = 0, objects = 0, collects = 0, finalizers = 0, callbacks = 0, resurrected = 0;
};
extern Totals g_totals;

// A failed check: the case is a counterexample.
struct Violation {
  std::string what;
};

// One variant of one program, from the first operation to the teardown.
class Run {
 public:
  Run(const std::vector<Op>& program, bool concurrent, int uid_base);

  // The program as it runs, one line per operation; `mark` flags one.
  std::string listing(int mark = -1) const;

  // Returns the violations (empty: the run passed).
  std::vector<std::string> run();

 private:
  // ---- execution (run.cc) ----

  void run_sequential();
  void run_concurrent();
  // The concurrent variant's collector thread: gc.collect() in a loop, with
  // random pauses, until `stop`.
  void start_collector(std::atomic<bool>& stop);
  // Each worker runs its own operations, in program order, as soon as they
  // are ready, with random pauses.
  void start_workers();
  const Op& original_op(std::size_t i) const { return program_op_.at(i); }

  // Drops everything, empties keep (until no finalizer resurrects any
  // more) and checks that two collections leave nothing of the case.
  void teardown();
  void drop_references();
  void empty_keep();
  void check_nothing_left();
  // Releases the run's references whatever happened (main, attached).
  void cleanup();
  void record_totals() const;

  // ---- checks (run_checks.cc; main thread, attached) ----

  void fail(const std::string& what);  // throws Violation
  std::string n(int uid) const { return model_.name(uid); }
  int fins(int uid) const;
  int cbs(int uid) const;
  void full_collect();
  bool probe_alive(int uid, std::uintptr_t* addr = nullptr);
  std::set<int> dead_probes();

  // Reads the events appended since the last read.
  void read_events();
  // The model's view of garbage: strong = reachable from locals and G.
  std::set<int> update_garbage();
  // Reads the keep list; what is new becomes a holder in the model.
  void read_keep();
  // The heap walked from the holders against the model.
  void compare_heap(const std::set<int>& all);
  // One object the walk reached (uid -> (id, kind, edges)) against its
  // node in the model; returns what differs ("" if nothing).
  std::string compare_node(int uid, PyObject* value, const std::set<int>& all);

  // The invariants, after an operation (sequential) or at the end
  // (concurrent).  after_collect: a whole collection ran since the last
  // check.
  void check(bool after_collect);
  void note_garbage(const std::set<int>& all);
  void check_strong(const std::set<int>& strong);
  void check_weakrefs(const std::set<int>& strong, bool after_collect);
  void check_completeness();

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

}  // namespace stressfork
