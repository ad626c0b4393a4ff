"""The parts of a config that take from the host: ``[[dir]]`` with ``source``, ``[[file]]``,
``--source`` (with_source) and the mount point's checks (check_mountpoint). Every mistake is
one line naming the file and the entry, before anything mounts."""

from __future__ import annotations

import os

import pytest

from iofs.vfs.config import ConfigError, check_mountpoint, parse, with_source


def refused(text: str, src: str = "tree.toml") -> str:
    with pytest.raises(ConfigError) as ei:
        parse(text, src)
    message = str(ei.value)
    assert "\n" not in message and message.startswith(f"{src}: "), message
    return message


@pytest.fixture
def host(tmp_path):
    d = tmp_path / "host"
    d.mkdir()
    (d / "input.txt").write_bytes(b"some input\n")
    return d


def test_a_dir_with_a_source_is_its_real_path(host, tmp_path):
    (tmp_path / "link").symlink_to(host)
    tree = parse(f'[[dir]]\npath = "data"\nsource = "{tmp_path / "link"}"\n', "t.toml")
    assert [(d.path, d.source) for d in tree.dirs] == [("data", str(host))]


def test_a_relative_source_is_taken_from_the_configs_directory(host, tmp_path):
    cfg = tmp_path / "tree.toml"
    tree = parse('[[dir]]\npath = "data"\nsource = "host"\n\n[[file]]\npath = "in"\n'
                 'source = "host/input.txt"\n', str(cfg))
    assert tree.dirs[0].source == str(host) and tree.files[0].data == b"some input\n"


@pytest.mark.parametrize("source,phrase", [
    ("/nonexistent/dir", "source /nonexistent/dir: No such file or directory"),
    ("HOST/input.txt", "not a directory"),
])
def test_a_bad_dir_source_is_one_line(host, source, phrase):
    source = source.replace("HOST", str(host))
    assert phrase in refused(f'[[dir]]\npath = "data"\nsource = "{source}"\n')


def test_a_dir_with_a_source_has_the_hosts_owner_and_mode(host):
    assert "no mode, uid or gid" in refused(
        f'[[dir]]\npath = "data"\nsource = "{host}"\nmode = "0700"\n')


def test_nothing_is_placed_under_a_host_directory(host):
    base = f'[[dir]]\npath = "data"\nsource = "{host}"\n'
    assert "lies under dir with a source 'data'" in refused(base + '[[dir]]\npath = "data/x"\n')
    assert "lies under dir with a source 'data'" in refused(
        base + '[[file]]\npath = "data/f"\ncontent = "x"\n')
    assert "lies under dir with a source 'data'" in refused(
        base + '[[device]]\npath = "data/zero"\ndriver = "zero"\n')


def test_a_file_from_content_or_source(host):
    tree = parse(f'[[file]]\npath = "etc/motd"\ncontent = "hello\\n"\nmode = "0600"\n\n'
                 f'[[file]]\npath = "in"\nsource = "{host / "input.txt"}"\n')
    assert [(f.path, f.data, oct(f.mode)) for f in tree.files] == [
        ("etc/motd", b"hello\n", "0o600"), ("in", b"some input\n", "0o644")]


@pytest.mark.parametrize("body,phrase", [
    ('path = "f"\n', 'needs source = "/host/file" or content = "...", one of the two'),
    ('path = "f"\ncontent = "a"\nsource = "/etc/hostname"\n', "one of the two"),
    ('path = "f"\ncontent = 5\n', "content must be a string"),
    ('path = "f"\nsource = "/nonexistent"\n', "source /nonexistent: No such file or directory"),
    ('path = "f"\nsource = "/dev/zero"\n', "not a regular file"),
    ('path = "f"\ncontent = "x"\ncolour = "red"\n', "unknown key(s) colour"),
])
def test_a_bad_file_is_one_line(body, phrase):
    assert phrase in refused("[[file]]\n" + body)


def test_files_count_against_max_memory(host):
    (host / "big").write_bytes(b"b" * 5000)
    assert "more than max_memory" in refused(
        f'[options]\nmax_memory = "4K"\n[[file]]\npath = "f"\nsource = "{host / "big"}"\n')
    assert "more than max_memory left" in refused(
        '[options]\nmax_memory = "4K"\n[[file]]\npath = "a"\ncontent = "' + "a" * 3000
        + '"\n[[file]]\npath = "b"\ncontent = "' + "b" * 3000 + '"\n')


def test_a_file_and_a_dir_or_device_at_one_path(host):
    assert "declared as both a device and a file" in refused(
        '[[device]]\npath = "x"\ndriver = "zero"\n[[file]]\npath = "x"\ncontent = ""\n')
    assert "lies under file 'x'" in refused(
        '[[file]]\npath = "x"\ncontent = ""\n[[dir]]\npath = "x/y"\n')


def test_namespace_durability_fsync_is_refused_over_a_host_directory(host):
    assert 'namespace_durability = "fsync" cannot be kept over a host directory' in refused(
        f'[options]\ndurability = true\nnamespace_durability = "fsync"\n'
        f'[[dir]]\npath = "d"\nsource = "{host}"\n')


def test_with_source_makes_the_host_directory_the_root(host):
    tree = with_source(parse('[options]\ndurability = true\n'), str(host))
    assert tree.root_source == str(host) and tree.durability
    with pytest.raises(ConfigError, match="no .*device.*dir.*file"):
        with_source(parse('[[dir]]\npath = "tmp"\n', "t.toml"), str(host))
    with pytest.raises(ConfigError, match="--source /nonexistent: No such file or directory"):
        with_source(parse(""), "/nonexistent")


def test_a_source_inside_the_mount_point_or_holding_it(host, tmp_path):
    mp = tmp_path / "mnt"
    mp.mkdir()
    (mp / "inner").mkdir()
    tree = with_source(parse(""), str(mp / "inner"))
    with pytest.raises(ConfigError, match="is inside the mount point"):
        check_mountpoint(tree, str(mp))
    with pytest.raises(ConfigError, match="holds the mount point"):
        check_mountpoint(with_source(parse(""), str(tmp_path)), str(mp))
    check_mountpoint(with_source(parse(""), str(host)), str(mp))  # beside it: fine
    os.rmdir(mp / "inner")
