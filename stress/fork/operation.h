// stress/fork/operation.h -- one operation (program.h's ROp) run for real
// on its worker thread, and the state the threads of one run share.
#pragma once

#include "interpreter.h"

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "program.h"

namespace stressfork {

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

// Blocks (detached) until r can run on its thread: the locals it uses have
// arrived and the earlier mutations of its container (or of G) are done.
void wait_ready(Shared& s, const ROp& r);

// Runs r on the calling thread, attached.  A Python exception goes to
// s.errors (the run reports it as a violation).
void exec_op(Shared& s, const ROp& r);

}  // namespace stressfork
