"""``python scripts/bench [ARGS]`` (what ``scripts/bench/run`` execs), or ``python -m bench``
with ``scripts`` on the path: the benchmark's command line."""

import os
import sys

# Run as a directory, this file's own directory is sys.path[0]: put its parent there instead,
# so that ``bench`` is a package, and the checkout first, so that the bench imports the iofs
# it lives in (the one its "iofs" column measures), whatever the interpreter has installed.
_HERE = os.path.dirname(os.path.abspath(__file__))
_SCRIPTS = os.path.dirname(_HERE)
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
sys.path[:0] = [_SCRIPTS, os.path.dirname(_SCRIPTS)]

from bench.cli import main  # noqa: E402

sys.exit(main())
