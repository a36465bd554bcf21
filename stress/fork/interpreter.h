// stress/fork/interpreter.h -- the embedded interpreter: its start-up, the
// helper module (stress_fork_helpers.py, embedded at build time) and the
// main thread's attachment.
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string>

#include "options.h"

#ifndef TRICOLOR_PY_HOME
#error "TRICOLOR_PY_HOME: the interpreter's prefix (stress/fork/CMakeLists.txt sets it)"
#endif

namespace stressfork {

struct Py {
  PyObject* dict = nullptr;  // the helper module's namespace (borrowed refs below)
  PyObject *events, *keep, *G, *Tag, *Node, *Res, *WR;
  PyObject *full_collect, *snapshot, *keep_uids, *live, *format_exc, *mode;
  PyInterpreterState* interp = nullptr;
  PyThreadState* main_ts = nullptr;  // while the main thread is detached
};
extern Py g_py;

// The main thread attaches only to check.
struct MainAttached {
  MainAttached() { PyEval_RestoreThread(g_py.main_ts); }
  ~MainAttached() { g_py.main_ts = PyEval_SaveThread(); }
  MainAttached(const MainAttached&) = delete;
  MainAttached& operator=(const MainAttached&) = delete;
};

// The pending exception as text (clears it).
std::string py_error();

// Starts the interpreter (-X gc=o.gc if set, home TRICOLOR_PY_HOME) and
// runs the helper module into g_py; exits with status 2 if either fails.
// Leaves the main thread attached.
void init_python(const Options& o);

// The interpreter and its collector mode, as the helper module's mode()
// describes them.
std::string interpreter_mode();

}  // namespace stressfork
