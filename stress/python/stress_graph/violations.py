"""Violations: appended from any thread (also from finalizers and callbacks on
the collector thread), printed by the main thread.  No locks: a finalizer
may run on a thread that holds one."""
import traceback

VIOLATIONS = []
VIOLATIONS_CAP = 1000   # kept; the rest only counted (racily: a lower bound)
MORE_VIOLATIONS = [0]


def violation(msg):
    if len(VIOLATIONS) < VIOLATIONS_CAP:
        VIOLATIONS.append(msg)
    else:
        MORE_VIOLATIONS[0] += 1


def unraisable_hook(u):
    violation("unraisable exception (%s): %s\n%s" % (
        u.err_msg, u.exc_value,
        "".join(traceback.format_exception(u.exc_type, u.exc_value, u.exc_traceback))))


def thread_excepthook(a):
    violation("thread %s died: %s\n%s" % (
        a.thread.name if a.thread else "?", a.exc_value,
        "".join(traceback.format_exception(a.exc_type, a.exc_value, a.exc_traceback))))
