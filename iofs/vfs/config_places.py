"""The sections of a config that place things in the tree (``[[dir]]``, with or without a
host ``source``, and ``[[file]]``), where everything may go, and what a mount with host
directories cannot do; ``--source`` and the mount point's checks."""

from __future__ import annotations

import os
from typing import Any, Iterator

from .config_base import ConfigError, DirSpec, FileSpec, Tree, _id, _mode, _parents, _path, _tables
from .sources import SourceError, check_against_mountpoint, host_dir, host_file


def _base(source: str) -> str | None:
    """The directory relative host paths of a config are taken from: the config file's."""
    return None if source.startswith("<") else os.path.dirname(os.path.abspath(source))


def _placed(doc: dict, key: str, source: str, keys: set[str]) -> Iterator[tuple[dict, str, str]]:
    """Each ``[[key]]`` table with the words that name it in an error and its path, checked:
    a path declared twice or a key not in ``keys`` is a ConfigError."""
    seen: set[str] = set()
    for k, entry in enumerate(_tables(doc, key, source)):
        where = f"{source}: [[{key}]] #{k + 1}"
        path = _path(entry, where)
        if path in seen:
            raise ConfigError(f"{source}: {key} {path!r}: declared twice")
        seen.add(path)
        extra = set(entry) - keys
        if extra:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(extra))}")
        yield entry, where, path


def _dirs_of(doc: dict, source: str, tree: Tree) -> None:
    for entry, where, path in _placed(doc, "dir", source, {"path", "mode", "uid", "gid", "source"}):
        if "source" in entry:
            if set(entry) & {"mode", "uid", "gid"}:
                raise ConfigError(f"{where}: a dir with a source has the host directory's "
                                  "owner and mode (no mode, uid or gid)")
            try:
                tree.dirs.append(DirSpec(path, source=host_dir(entry["source"], _base(source))))
            except SourceError as exc:
                raise ConfigError(f"{where}: {exc}") from None
            continue
        tree.dirs.append(DirSpec(path, _mode(entry.get("mode", "0755"), where),
                                 _id(entry.get("uid", 0), "uid", where),
                                 _id(entry.get("gid", 0), "gid", where)))


def _files_of(doc: dict, source: str, tree: Tree) -> None:
    left = tree.max_memory
    keys = {"path", "mode", "uid", "gid", "source", "content"}
    for entry, where, path in _placed(doc, "file", source, keys):
        if ("source" in entry) == ("content" in entry):
            raise ConfigError(f'{where}: needs source = "/host/file" or content = "...", '
                              "one of the two")
        try:
            data = host_file(entry["source"], _base(source), left) if "source" in entry \
                else _content(entry["content"], left)
        except SourceError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        left -= len(data)
        tree.files.append(FileSpec(path, data, _mode(entry.get("mode", "0644"), where),
                                   _id(entry.get("uid", 0), "uid", where),
                                   _id(entry.get("gid", 0), "gid", where)))


def _content(value: Any, limit: int) -> bytes:
    if not isinstance(value, str):
        raise SourceError("content must be a string")
    data = value.encode()
    if len(data) > limit:
        raise SourceError(f"content: {len(data)} bytes, more than max_memory left ({limit})")
    return data


def _check_places(source: str, tree: Tree) -> None:
    """No node under a device, a file or a host directory, none declared twice over, none
    inside the control directory."""
    kinds = {d.path: "device" for d in tree.devices}
    for path, kind in [(f.path, "file") for f in tree.files] + \
            [(d.path, "dir") for d in tree.dirs]:
        if path in kinds:
            raise ConfigError(f"{source}: {path!r} is declared as both a {kinds[path]} and a {kind}")
        kinds[path] = kind
    leaves = {d.path: "device" for d in tree.devices} | {f.path: "file" for f in tree.files} \
        | {d.path: "dir with a source" for d in tree.dirs if d.source}
    for path, kind in sorted(kinds.items()):
        for above in _parents(path):
            if above in leaves:
                raise ConfigError(f"{source}: {kind} {path!r} lies under {leaves[above]} {above!r}")
        if tree.control is not None and path.split("/")[0] == tree.control:
            raise ConfigError(f"{source}: {path!r} would be inside the control directory "
                              f"{tree.control!r} (rename it with [options] control = \"...\")")
    _check_host(source, tree)


def _check_host(source: str, tree: Tree) -> None:
    """What a mount with host directories cannot do."""
    if not (tree.root_source or any(d.source for d in tree.dirs)):
        return
    if tree.durability and tree.namespace_durability == "fsync":
        raise ConfigError(f"{source}: namespace_durability = \"fsync\" cannot be kept over a "
                          "host directory (a crash cannot bring back what was unlinked in it): "
                          "see docs/crash.md")
    if tree.root_source and (tree.devices or tree.dirs or tree.files):
        raise ConfigError(f"{source}: with --source the whole mount is the host directory: "
                          "no [[device]], [[dir]] or [[file]] (graft a host directory with "
                          "[[dir]] source = ... instead)")


def with_source(tree: Tree, directory: str) -> Tree:
    """``tree`` with the host directory ``directory`` as its root (``--source``): ConfigError
    (one line) if it cannot be."""
    try:
        tree.root_source = host_dir(directory, None, "--source")
    except SourceError as exc:
        raise ConfigError(str(exc)) from None
    _check_host(tree.source, tree)
    return tree


def check_mountpoint(tree: Tree, mountpoint: str) -> None:
    """ConfigError if a host directory of the tree is inside the mount point, or holds it."""
    sources = [d.source for d in tree.dirs if d.source] + \
        ([tree.root_source] if tree.root_source else [])
    try:
        check_against_mountpoint(sources, mountpoint)
    except SourceError as exc:
        raise ConfigError(str(exc)) from None



__all__ = ["with_source", "check_mountpoint"]
