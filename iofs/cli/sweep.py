"""``iofs sweep -- CMD``: fault each request of a program in turn; report the runs that show
something, one line per group of alike findings (docs/testing.md)."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import Any, TextIO

from ..testing.sweep import (DEFAULT_ACTIONS, DEFAULT_OPS, Interrupted, Result,
                             SweepError, make_sweep)
from ..testing.sweep.outcome import CRASH_CLASSES, FAULT_CLASSES
from ..testing.sweep import export, report
from ..vfs import config
from .errors import EXIT_FAIL, EXIT_USAGE, CliError


class Printer:
    """The header when the cases are known, a progress bar on a terminal, the findings and
    the summary at the end. A closed stdout (``| head``) ends the printing, not the sweep."""

    def __init__(self, verbose: bool, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> None:
        self.verbose, self.out, self.err = verbose, out, err
        self.progress = err.isatty()

    def start(self, result: Result) -> None:
        self._say(report.header(result))

    def tick(self, done: int, total: int, result: Result) -> None:
        if not self.progress:
            return
        width = 30
        filled = width * done // max(total, 1)
        c = result.counts()
        classes = " ".join(f"{k.upper()} {c[k]}" for k in result.classes if c[k])
        self.err.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} runs"
                       + (f": {classes}" if classes else ""))
        self.err.flush()

    def finish(self, result: Result) -> None:
        if self.progress and result.runs:
            self.err.write("\n")
        lines = report.findings(result, self.verbose)
        try:
            if lines:
                self.out.write("\n".join(lines) + "\n")
            self.out.flush()
        except BrokenPipeError:  # (| head): the rest of the findings is not wanted
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.out.fileno())
            os.close(devnull)
        self._say(report.summary(result))

    def _say(self, lines: list[str]) -> None:
        self.err.write("".join(ln + "\n" for ln in lines))
        self.err.flush()


def _command(args: argparse.Namespace) -> list[str]:
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        raise CliError("no command to sweep (iofs sweep [OPTIONS] -- CMD [ARGS...])", EXIT_USAGE)
    if "{mnt}" not in cmd[0] and shutil.which(cmd[0]) is None:  # before any mount
        raise CliError(f"cannot run {cmd[0]}: no such command (or not executable)", EXIT_USAGE)
    if args.jobs < 1 or (args.max_runs is not None and args.max_runs < 0) or args.timeout <= 0 \
            or (args.sample is not None and args.sample < 0):
        raise CliError("--jobs must be >= 1, --max-runs and --sample >= 0 and --timeout > 0",
                       EXIT_USAGE)
    if args.config:
        config.load(args.config)  # ConfigError: one line, exit 2, before any run
    return cmd


def cmd_sweep(args: argparse.Namespace) -> int:
    cmd = _command(args)
    printer = Printer(args.verbose)
    try:
        sweep = make_sweep(cmd, Path(args.config) if args.config else None, ops=args.ops,
                           actions=args.actions, path=args.path, source=args.source,
                           nth=args.nth, sample=args.sample, seed=args.seed,
                           max_runs=args.max_runs, timeout=args.timeout, jobs=args.jobs,
                           only=args.only or (",".join(CRASH_CLASSES) if args.crash
                                              else ",".join(FAULT_CLASSES)),
                           fresh_mounts=args.fresh_mounts, crash=args.crash, check=args.check,
                           torn=args.torn, on_start=printer.start, on_run=printer.tick)
        result = sweep.run()
    except SweepError as exc:
        raise CliError(str(exc), EXIT_USAGE if exc.usage else EXIT_FAIL) from None
    except Interrupted as exc:  # before the cases were known: nothing to report
        print("\nsweep: interrupted; every mount is gone", file=sys.stderr)
        return 128 + exc.signum
    printer.finish(result)
    try:
        if args.json:
            export.write_json(result, args.json)
        if args.junit:
            export.write_junit(result, args.junit)
    except OSError as exc:
        raise CliError(f"cannot write {exc.filename}: {exc.strerror}") from None
    return result.exit_status


def register(sub: Any) -> None:
    sw = sub.add_parser("sweep", help="fault each request of a program in turn: where does it break?")
    sw.add_argument("--config", metavar="FILE", help="the tree to mount (default: the built-in tree)")
    sw.add_argument("--source", metavar="DIR",
                    help="mount a copy of this host directory (restored before each run)")
    sw.add_argument("--path", metavar="GLOB", help="sweep only requests on paths matching GLOB")
    sw.add_argument("--ops", default=DEFAULT_OPS, metavar="LIST",
                    help=f"ops to fault (default: {DEFAULT_OPS})")
    sw.add_argument("--actions", default=DEFAULT_ACTIONS, metavar="LIST",
                    help=f"actions to try on each request (default: {DEFAULT_ACTIONS})")
    sw.add_argument("--nth", metavar="WHEN[,WHEN...]",
                    help="only these requests, by their place in the clean run (K, K+, K+S, K..L)")
    sw.add_argument("--sample", type=int, metavar="N", help="run N cases drawn at random")
    sw.add_argument("--seed", type=int, default=0, metavar="S", help="the seed of --sample (default: 0)")
    sw.add_argument("--max-runs", type=int, metavar="N", help="run at most the first N cases")
    sw.add_argument("--timeout", type=float, default=60.0, metavar="S",
                    help="a run taking longer is killed: HANG (default: 60)")
    sw.add_argument("--jobs", type=int, default=1, metavar="N", help="runs at once (default: 1)")
    sw.add_argument("--only", metavar="CLASSES",
                    help="show and count only these classes (default: silent,loud,crash,hang; "
                    "with --crash: check,hang)")
    sw.add_argument("--crash", action="store_true",
                    help="sweep the crash points: crash at each request that changes the disk, "
                    "restart, run --check")
    sw.add_argument("--check", metavar="CMD",
                    help="with --crash: a shell command run after each crash ({mnt}, {stdout}: "
                    "the program's stdout); a non-zero exit is a finding")
    sw.add_argument("--torn", type=int, default=0, metavar="N",
                    help="with --crash: also N seeded tearings of each write")
    sw.add_argument("-v", "--verbose", action="store_true",
                    help="details of each finding: the rule as a table, a stdout diff, stderr")
    sw.add_argument("--json", metavar="FILE", help="write every case as JSON")
    sw.add_argument("--junit", metavar="FILE", help="write a JUnit XML report")
    sw.add_argument("--fresh-mounts", action="store_true",
                    help="mount afresh for each run instead of resetting one mount (slower)")
    sw.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS...]",
                    help="the program; {mnt} in its arguments (and IOFS_MNT) name the mount")
    sw.set_defaults(func=cmd_sweep)


__all__ = ["cmd_sweep", "register"]
