// gc/mutants.h -- internal: known bugs the stress suite injects on purpose,
// to show that it catches them (stress/README.md).  Not installed: a test
// hook is no part of the embedder's API.  Test builds only: with the
// CMake option TRICOLOR_MUTANTS=ON every place below reads the environment
// variable TRICOLOR_MUTANT once per process and takes the buggy branch if it
// names that place; without the option TC_MUTANT() is the constant false
// and the collector has no such branch.
//
//   no-black-allocation         phase 1 leaves black allocation off, so
//                               objects born while marking become candidates
//                               and the concurrent phases read them while
//                               their constructor may still run
//   verify-trusts-marks         the verification and the candidate filter
//                               take every unmarked candidate for garbage
//                               (refcounts ignored)
//   weakrefs-after-finalizers   the synthetic runtime runs finalizers before
//                               it clears the weak references to the garbage
//   no-resurrection-check       phase 6 is skipped: resurrected garbage is
//                               cleared and freed
//   poll-without-stop           a safepoint poll reports the thread parked
//                               and returns: the world is not stopped
//   candidates-ignore-live-bit  the candidate set is "not marked" instead of
//                               "live and not marked": free blocks and the
//                               insides of objects become candidates
//   no-shade                    Collector::shade() does nothing: the
//                               referent of a weak reference born during a
//                               collection may die with it, and the black
//                               weak reference's callback runs
//   no-dependents               the verification pause does not add the
//                               garbage's dependents, what only the garbage
//                               holds (find_garbage with_dependents): black
//                               objects hanging off the garbage die by
//                               reference counting when it is cleared, and
//                               weak references among them get callbacks
//   callback-refs-counted       the synthetic runtime's verification counts
//                               the reference it holds for a queued
//                               callback: a weak reference that is garbage
//                               in a later batch than its referent looks
//                               alive, and its callback runs
//   starts-before-marks         Space::allocate() sets the starts bit before
//                               the marks bit of a black allocation (main
//                               before issue 17): a candidate scan between
//                               the two takes an object being born for a
//                               candidate, and the candidate filter
//                               inspects it before its constructor ran
//   weakref-clears-siblings     the synthetic runtime, clearing a weak
//                               reference that is itself garbage, clears
//                               every weak reference to the same referent:
//                               live ones to a live referent go too
#pragma once

namespace tricolor::mutant {

/// The mutants, in the order above.
enum class Mutant {
  kNoBlackAllocation,
  kVerifyTrustsMarks,
  kWeakrefsAfterFinalizers,
  kNoResurrectionCheck,
  kPollWithoutStop,
  kCandidatesIgnoreLiveBit,
  kNoShade,
  kNoDependents,
  kCallbackRefsCounted,
  kStartsBeforeMarks,
  kWeakrefClearsSiblings,
  kCount
};

/// Its name, as TRICOLOR_MUTANT spells it.
const char* name(Mutant m);
/// Whether TRICOLOR_MUTANT names `m` (read once; an unknown name aborts
/// with a message listing the valid ones).
bool active(Mutant m);

}  // namespace tricolor::mutant

#ifdef TRICOLOR_MUTANTS
#define TC_MUTANT(m) (::tricolor::mutant::active(::tricolor::mutant::Mutant::k##m))
#else
#define TC_MUTANT(m) false
#endif
