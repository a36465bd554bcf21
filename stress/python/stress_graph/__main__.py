"""Runs stress_graph: `python stress/python/stress_graph ...` (the
directory as a script) or `python -m stress_graph ...`."""
import os
import sys

if not __package__:
    # Run as a directory: sys.path[0] is this directory; import the package
    # from its parent instead (its module names then never shadow others).
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from stress_graph.runner import main  # noqa: E402

sys.exit(main())
