// stress/fork/operation.cc -- see operation.h.
#include "operation.h"

#include "context.h"  // hang, kHangTimeout

namespace stressfork {

namespace {

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

}  // namespace

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

}  // namespace stressfork
