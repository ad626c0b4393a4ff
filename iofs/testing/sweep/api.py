"""The sweep as a function: what ``iofs sweep`` and the ``iofs_sweep`` fixture call.

    from iofs.testing.sweep import sweep

    result = sweep(["./reader", "{mnt}/input"], "tree.toml", actions="short:1,short:half")
    assert not result.silent, "\\n".join(map(str, result.silent))
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from ...faults.rules import parse_rule
from ...system import cgroup
from ...vfs.config import ConfigError, parse
from ..mount import config_text
from .cases import (DEFAULT_ACTIONS, DEFAULT_OPS, Choice, SweepError, parse_actions,
                    parse_nth_list, parse_ops)
from .crash import CRASH_OPS, WHENS
from .engine import Interrupted, Sweep
from .outcome import CLASSES
from .result import Result
from .runner import Setup

CGROUPS_ENV = "IOFS_SWEEP_CGROUPS"  # "0": never run programs in cgroups (the fallback)


def parse_only(text: str | Iterable[str]) -> tuple[str, ...]:
    """``--only``: a comma list (or an iterable) of classes (SweepError, usage)."""
    words = [w.strip().lower() for w in (text.split(",") if isinstance(text, str) else text)]
    words = [w for w in words if w]
    bad = [w for w in words if w not in CLASSES]
    if bad or not words:
        raise SweepError(f"--only {bad[0] if bad else ''!r}: the classes are {', '.join(CLASSES)}",
                         usage=True)
    return tuple(w for w in CLASSES if w in words)


def _listing(value: str | Sequence[str]) -> str:
    return value if isinstance(value, str) else ",".join(value)


def _cgroups() -> bool:
    return os.environ.get(CGROUPS_ENV, "1") != "0" and cgroup.usable()


def check_source(source: str | os.PathLike) -> str:
    """``--source DIR``: an existing directory (its absolute path); SweepError otherwise."""
    path = os.path.abspath(source)
    if not os.path.isdir(path):
        raise SweepError(f"--source {source}: not a directory", usage=True)
    return path


def _config(config: Any, options: dict[str, Any]) -> str | None:
    try:
        text = config_text(config, options)
    except OSError as exc:
        raise SweepError(f"cannot read config {config}: {exc.strerror}", usage=True) from None
    if text is not None:
        try:
            parse(text, str(config) if isinstance(config, (str, Path)) and "\n" not in str(config)
                  else "<config>")
        except ConfigError as exc:
            raise SweepError(str(exc), usage=True) from None
    return text


def _crash_options(crash: bool, check: str | None, torn: int, ops: str | Sequence[str],
                   actions: str | Sequence[str], options: dict[str, Any]
                   ) -> tuple[str | Sequence[str], dict[str, Any]]:
    """The ops and tree options of a crash sweep (the crash plane needs durability), checked:
    SweepError (usage) for --check or --torn without --crash, and for --actions with it."""
    if not crash:
        if check is not None or torn:
            raise SweepError("--check and --torn go with --crash", usage=True)
        return ops, options
    if not check:
        raise SweepError("--crash needs --check CMD: what says whether the data survived",
                         usage=True)
    if torn < 0:
        raise SweepError("--torn must be >= 0", usage=True)
    if _listing(actions) != DEFAULT_ACTIONS:
        raise SweepError("--actions does not go with --crash: a crash sweep tries crash and "
                         "crash:before on each request (and crash:torn with --torn N)", usage=True)
    return (CRASH_OPS if _listing(ops) == DEFAULT_OPS else ops), {"durability": True, **options}


def make_sweep(cmd: Sequence[str] | str, config: Any = None, *, ops: str | Sequence[str] = DEFAULT_OPS,
          actions: str | Sequence[str] = DEFAULT_ACTIONS, path: str | None = None,
          source: str | os.PathLike | None = None, nth: str | None = None,
          sample: int | None = None, seed: int = 0, max_runs: int | None = None,
          timeout: float = 60.0, jobs: int = 1, only: str | Iterable[str] = CLASSES,
          env: dict[str, str] | None = None, cwd: str | os.PathLike | None = None,
          workdir: str | os.PathLike | None = None, fresh_mounts: bool = False,
          crash: bool = False, check: str | None = None, torn: int = 0,
          on_start: Callable[[Result], None] | None = None,
          on_run: Callable[[int, int, Result], None] | None = None, **options: Any) -> Sweep:
    """The sweep of ``cmd`` (a list, or a string split as the shell would) over the tree ``config``
    (a TOML file's path, TOML text, a dict of tables, or None: the default tree; ``options``
    go into its [options]); the :class:`~.result.Result`.

    ``ops``, ``actions``, ``only`` and ``nth`` take what the options of ``iofs sweep`` take
    (comma lists; ``nth``: WHEN[,WHEN...]); ``path``: sweep only the requests on paths
    matching this glob; ``source``: a host directory the mount mirrors (fresh for each run);
    ``env`` and ``cwd``: the program's environment (IOFS_MNT is added) and directory;
    ``workdir``: where the sweep's mounts are made (default: $TMPDIR). ``crash``: sweep the
    crash points instead (:mod:`.crash`): ``check`` is the shell command that judges each,
    ``torn`` the seeded tearings of each write; ``ops`` defaults to the ops that change what a
    disk holds, and the tree gets ``durability = true``. SweepError if the
    sweep cannot be made (``usage``: a bad argument; ``unavailable``: this machine cannot
    mount). ``.run()`` makes it: the Result, ``interrupted`` set if SIGINT, SIGTERM or SIGHUP
    ended it (every mount gone; the runs made so far kept)."""
    argv = shlex.split(cmd) if isinstance(cmd, str) else [str(a) for a in cmd]
    if not argv:
        raise SweepError("no command to sweep", usage=True)
    ops, options = _crash_options(crash, check, torn, ops, actions, options)
    op_list = parse_ops(_listing(ops))
    if path is not None:
        try:
            parse_rule(f"path={shlex.quote(path)} op={','.join(op_list)} action=ok")
        except ValueError as exc:
            raise SweepError(f"--path {path}: {exc}", usage=True) from None
    setup = Setup(argv, _config(config, options), op_list, path=path,
                  source=check_source(source) if source is not None else None, timeout=timeout,
                  env=dict(os.environ if env is None else env),
                  cwd=str(cwd) if cwd is not None else None, cgroups=_cgroups(),
                  fresh=fresh_mounts, check=check if crash else None)
    if timeout <= 0 or jobs < 1 or (max_runs is not None and max_runs < 0) \
            or (sample is not None and sample < 0):
        raise SweepError("--timeout must be > 0, --jobs >= 1, --max-runs and --sample >= 0",
                         usage=True)
    choice = Choice(parse_nth_list(nth) if nth else None, sample, seed, max_runs)
    if crash:
        whens = list(WHENS) + ([f"crash:torn x {torn}"] if torn else [])
        return Sweep(setup, whens, choice, jobs, parse_only(only), str(workdir) if workdir
                     is not None else None, on_start, on_run, torn)
    return Sweep(setup, parse_actions(_listing(actions), op_list), choice, jobs,
                 parse_only(only), str(workdir) if workdir is not None else None,
                 on_start, on_run)


def sweep(cmd: Sequence[str] | str, config: Any = None, **kw: Any) -> Result:
    """Sweep ``cmd`` over the tree ``config`` (the arguments of :func:`make_sweep`); the
    :class:`~.result.Result`: ``.findings``, ``.silent``, ``.loud``, ``.crash``, ``.hang``,
    ``.check`` (sweep ``crash=True``), ``.errors``, ``.counts()``. SweepError if it cannot be made; KeyboardInterrupt if a signal
    ended it (every mount gone)."""
    result = make_sweep(cmd, config, **kw).run()
    if result.interrupted is not None:
        raise Interrupted(result.interrupted)
    return result


__all__ = ["sweep", "make_sweep", "parse_only", "check_source", "CGROUPS_ENV"]
