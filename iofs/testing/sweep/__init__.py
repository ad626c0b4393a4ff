"""``iofs sweep``: fault each request of a program in turn, and report only the runs that show
something, by class.

1. **Clean runs.** The program runs twice on a mount of the tree with the rule ``op=OPS
   action=ok`` (which changes nothing, but makes the files it matches open direct_io, as any
   faulted run's will): its exit status, stdout and stderr are what it should do, and the
   trace says which requests it made and how many bytes each moved.
2. **Cases** (:mod:`.cases`). Each (request, action) that could show something is one case:
   the rule ``path=P op=O nth=N action=A`` hits exactly that request. ``--nth``, ``--sample``
   and ``--max-runs`` choose among them.
3. **Runs** (:mod:`.runner`, :mod:`.group`). One mount per worker, made as configured before
   each run (``.iofs/reset``); each program in a cgroup of its own, killed whole when it exits.
4. **Judgement** (:mod:`.outcome`, :mod:`.result`). A run that differs from the clean run is
   ``silent`` (exit status as clean, stdout differs, nothing new on stderr), ``loud``,
   ``crash`` (a signal) or ``hang`` (the timeout). The mount's path reads ``{mnt}`` in every
   output first.
5. **Reports** (:mod:`.report`, :mod:`.export`): one line per group of alike findings, -v
   details, JSON, JUnit XML.

The engine (:mod:`.engine`) runs all of it and leaves nothing behind, also on SIGINT, SIGTERM
and SIGHUP. :func:`sweep` (:mod:`.api`) is the test API: it returns a :class:`Result` whose
findings are objects; the pytest plugin's ``iofs_sweep`` fixture is that function.
"""

from .api import CGROUPS_ENV, check_source, make_sweep, parse_only, sweep
from .cases import (DEFAULT_ACTIONS, DEFAULT_OPS, Case, Choice, Request, SweepError,
                    build_cases, concrete, parse_actions, parse_nth_list, parse_ops, requests_of)
from .engine import Interrupted, Sweep
from .outcome import CLASSES, Capture, Outcome, Output, classify
from .result import Finding, Group, Result, Run
from .runner import Setup, Worker

__all__ = ["sweep", "make_sweep", "parse_only", "check_source", "CGROUPS_ENV", "DEFAULT_ACTIONS",
           "DEFAULT_OPS", "Case", "Choice", "Request", "SweepError", "build_cases", "concrete",
           "parse_actions", "parse_nth_list", "parse_ops", "requests_of", "Interrupted", "Sweep",
           "CLASSES", "Capture", "Outcome", "Output", "classify", "Finding", "Group", "Result",
           "Run", "Setup", "Worker"]
