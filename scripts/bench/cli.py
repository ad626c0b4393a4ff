"""The command line: options, the order of the sections, and leaving nothing mounted."""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
from typing import Any

import pyfuse3

from iofs.system.mounts import mounts_under

from . import backed, baseline, dd, durability, fio, hook, memory, sweep, uiomove, xattr
from . import __doc__ as DOC
from .common import PARTS, REPO, based, log
from .measure import fio_version, pick_cpu
from .mounts import checkout_note
from .others import find_example
from .plot import have_matplotlib, plot
from .report import markdown, write_json
from .runner import Runner
from .settings import Settings
from .targets import targets


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="scripts/bench/run", description=(DOC or "").splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke sizes, well under a minute")
    ap.add_argument("--reps", type=int, help="rounds per test (default: dd 5, fio 3; --quick: 2, 1)")
    ap.add_argument("--json", metavar="FILE", help="write the raw numbers as JSON")
    ap.add_argument("--plot", metavar="FILE.png", help="a bar chart (needs matplotlib)")
    ap.add_argument("--only", action="append", choices=PARTS,
                    help="run only these parts (repeatable)")
    ap.add_argument("--no-example", action="store_true", help="leave pyfuse3's example tmpfs out")
    ap.add_argument("--no-pin", action="store_true",
                    help="do not pin the hook, durability and xattr sections (dd and daemons) to one CPU")
    ap.add_argument("--fetch-example", action="store_true",
                    help="fetch pyfuse3's example tmpfs even with --quick")
    ap.add_argument("--baseline", metavar="DIR",
                    help="another checkout of iofs: every iofs column also runs as iofs@base, its "
                         "daemon importing DIR's iofs, in the same rounds; the report adds new/base")
    ap.add_argument("--workdir", metavar="DIR",
                    help="make the work directory (mount points, logs) in DIR (default: $TMPDIR)")
    return ap.parse_args(argv)


def _check(args: argparse.Namespace) -> str | None:
    """What makes the run impossible, in one line (None: nothing); makes DIRs absolute."""
    if args.plot and not have_matplotlib():
        return "--plot needs matplotlib (pip install -e '.[plot]')"
    if not shutil.which("dd"):
        return "dd is missing"
    if args.baseline:
        args.baseline = os.path.realpath(args.baseline)
        if not os.path.isfile(os.path.join(args.baseline, "iofs", "__main__.py")):
            return f"--baseline {args.baseline}: not a checkout of iofs (no iofs/__main__.py)"
    if args.workdir:
        args.workdir = os.path.abspath(args.workdir)
        os.makedirs(args.workdir, exist_ok=True)
    return None


def _skeleton(s: Settings, fio: str | None, workdir: str) -> dict[str, Any]:
    """The result before anything ran (every key the report and the JSON expect)."""
    return {
        "version": 1, "settings": s.as_json(),
        "host": {"kernel": platform.release(), "cpus": os.cpu_count(),
                 "python": platform.python_version(), "pyfuse3": pyfuse3.__version__, "fio": fio,
                 "loadavg_start": [round(x, 2) for x in os.getloadavg()]},
        "workdir": workdir,
        "filesystems": {}, "request_sizes": None, "dd": [], "fio": [], "memory": [], "uiomove": None,
        "hook": None, "durability": None, "xattr": None, "sweep": None, "backed": None,
        "baseline": None,
        "targets": [], "errors": [],
    }


def _mounted_parts(r: Runner, parts: set[str], args: argparse.Namespace, s: Settings,
                   result: dict[str, Any]) -> None:
    """dd, fio and hook, on the filesystems mounted once for all three."""
    if args.no_example:
        script, note = None, "left out (--no-example)"
    else:
        script, note = find_example(fetch=(not s.quick or args.fetch_example) and "fio" in parts,
                                    timeout=30 if s.quick else 60)
    r.mount_all(script, note)
    if "dd" in parts:
        result["dd"] = dd.run(r)
    if "fio" in parts:
        if result["host"]["fio"]:
            result["fio"] = fio.run(r)
        else:
            result["fio_note"] = "fio is not installed (Debian package fio): left out"
            r.error(result["fio_note"])
    if "hook" in parts:
        result["hook"] = hook.run(r)
    result["request_sizes"] = r.bare_request_sizes()


def _run(parts: set[str], args: argparse.Namespace, s: Settings, result: dict[str, Any]) -> None:
    """Every section asked for, in the order that keeps the microbenchmark first (a quiet
    machine) and the memory runs last (fresh daemons, nothing else mounted)."""
    with contextlib.ExitStack() as stack:
        r = Runner(s, result["workdir"], stack, args.baseline)
        r.pin = None if args.no_pin else pick_cpu()
        result["settings"]["pin_cpu"] = r.pin
        if "uiomove" in parts:
            result["uiomove"] = uiomove.run(s.uiomove_rounds, r.workdir)
        if parts & {"dd", "fio", "hook"}:
            _mounted_parts(r, parts, args, s, result)
            stack.close()  # unmount before the memory runs
            r.mounts.clear()
        if "durability" in parts:
            result["durability"] = durability.run(r)
        if "xattr" in parts:
            result["xattr"] = xattr.run(r)
        if "sweep" in parts:
            result["sweep"] = sweep.run(r)
        if "backed" in parts:
            result["backed"] = backed.run(r)
        if "memory" in parts:
            # not mounted above (--only): mounted fresh there
            for n in ("iofs", "bare") + ((based("iofs"),) if args.baseline else ()):
                r.fs_info.setdefault(n, {"available": True})
            result["memory"] = memory.run(r)
        result["filesystems"] = r.fs_info
        result["errors"] = r.errors


def _finish(result: dict[str, Any], args: argparse.Namespace, t0: float) -> None:
    """Targets, the baseline comparison, the report and the files asked for."""
    result["targets"] = targets(result)
    if args.baseline:
        result["baseline"] = {"dir": args.baseline, "new": checkout_note(REPO),
                              "base": checkout_note(args.baseline),
                              "floor": baseline.FLOOR, "rows": baseline.comparisons(result)}
    result["seconds"] = round(time.monotonic() - t0, 1)
    result["host"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]  # others' load: noise
    sys.stdout.write(markdown(result))
    log(f"finished in {result['seconds']} s")
    if args.json:
        write_json(result, args.json)
    if args.plot:
        plot(result, args.plot)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0, 2 (cannot run) or 130 (interrupted: everything unmounted)."""
    args = parse_args(argv)
    problem = _check(args)
    if problem:
        print(f"bench: {problem}", file=sys.stderr)
        return 2
    parts = set(args.only or PARTS)
    s = Settings.make(args.quick, args.reps)
    t0 = time.monotonic()

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt
    old_term = signal.signal(signal.SIGTERM, on_term)

    workdir = tempfile.mkdtemp(prefix="iofs-bench-", dir=args.workdir)
    log(f"work directory {workdir}")
    result = _skeleton(s, fio_version(), workdir)
    try:
        _run(parts, args, s, result)
    except KeyboardInterrupt:
        log("interrupted; everything is unmounted")
        return 130
    finally:
        signal.signal(signal.SIGTERM, old_term)
        left = mounts_under(workdir)
        if left:  # never delete through a mount
            log(f"still mounted, left in place: {', '.join(left)}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    _finish(result, args, t0)
    return 0
