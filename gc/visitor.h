// gc/visitor.h -- internal: the one adapter from a callable to the
// Embedder's Visitor (tricolor/embedder.h), used by every trace and root
// enumeration in gc/.
//
// FnVisitor<F> holds the callable by value (a lambda that captures by
// reference holds just those references) and is final, so visit() is the
// one virtual call Embedder::trace() makes anyway, with the callable's body
// inlined into it: the marker's hot path costs what a hand-written Visitor
// subclass did.
//
// Concurrency: none of its own; the callable is called on whatever thread
// the embedder traces on, so what it touches follows the caller's rules.
#pragma once

#include <type_traits>
#include <utility>

#include "tricolor/embedder.h"

namespace tricolor {

/// A Visitor that calls `f(obj)` for every reference reported.
template <class F>
class FnVisitor final : public Visitor {
 public:
  explicit FnVisitor(F f) : f_(std::move(f)) {}
  void visit(void* obj) override { f_(obj); }

 private:
  F f_;
};

/// Embedder::trace(obj) with `f` called for each reference; returns what
/// trace() returns (false: the embedder declined to trace concurrently).
template <class F>
bool trace(Embedder& e, void* obj, bool concurrent, F&& f) {
  FnVisitor<std::decay_t<F>> v(std::forward<F>(f));
  return e.trace(obj, v, concurrent);
}

}  // namespace tricolor
