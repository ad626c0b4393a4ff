"""The config of a mount (iofs.vfs.config): TOML in, a validated Tree out. Every option's
check, the four sections, nodes and their keys, where nodes may be, and the reading of the
file; every mistake is a ConfigError of one line naming the file and the entry."""

from __future__ import annotations

import os

import pytest

from iofs.core.uio import OFF_MAX
from iofs.drivers.mem import Mem
from iofs.drivers.null import Null
from iofs.faults.ruleset import DEFAULT_MAX_RULES
from iofs.faults.trace import DEFAULT_EVENTS
from iofs.vfs.config import (
    DEFAULT_TREE,
    ID_MAX,
    MAX_CONFIG,
    OPTIONS,
    SECTIONS,
    ConfigError,
    Tree,
    load,
    parse,
)

SRC = "tree.toml"


def refused(text: str) -> str:
    """The one-line message of the ConfigError ``text`` raises."""
    with pytest.raises(ConfigError) as ei:
        parse(text, SRC)
    message = str(ei.value)
    assert "\n" not in message, message
    assert message.startswith(f"{SRC}: "), message
    return message


def option(key: str, toml_value: str) -> str:
    return f"[options]\n{key} = {toml_value}\n"


# ---- the default tree and an empty one ----------------------------------------------------------

def test_the_default_tree():
    tree = parse(DEFAULT_TREE, "<default tree>")
    assert [(d.path, type(d.driver).__name__, oct(d.mode)) for d in tree.devices] == [
        ("null", "Null", "0o666"), ("zero", "Zero", "0o666"), ("full", "Full", "0o666"),
        ("mem0", "Mem", "0o666"), ("pipe0", "Pipe", "0o666"), ("random", "Random", "0o666"),
        ("status", "Status", "0o444")]
    assert [(d.path, oct(d.mode)) for d in tree.dirs] == [("tmp", "0o1777")]
    assert tree.max_memory == 1 << 30 and tree.devices[3].driver.size == 64 << 20
    assert load(None).devices[0].path == "null"


def test_an_empty_config_is_an_empty_tree_with_the_documented_defaults():
    tree = parse("", SRC)
    assert (tree.devices, tree.dirs, tree.faults) == ([], [], [])
    assert (tree.max_memory, tree.max_file_size, tree.writeback_cache, tree.max_sleeping,
            tree.max_inodes, tree.trace, tree.trace_events, tree.trace_detail, tree.control,
            tree.xattr, tree.durability, tree.max_rules) == (
        1 << 30, None, False, 4096, 1 << 20, True, DEFAULT_EVENTS, False, ".iofs", True, False,
        DEFAULT_MAX_RULES)


# ---- every option's check ---------------------------------------------------------------------

GOOD = [
    ("max_memory", '"4M"', 4 << 20), ("max_memory", "0", 0), ("max_memory", '"1T"', 1 << 40),
    ("max_file_size", '"1G"', 1 << 30), ("max_file_size", "4096", 4096),
    ("writeback_cache", "true", True), ("writeback_cache", "false", False),
    ("max_sleeping", "1", 1), ("max_sleeping", str(1 << 20), 1 << 20),
    ("max_inodes", "1", 1), ("max_inodes", str(1 << 32), 1 << 32),
    ("trace", "false", False), ("trace_events", "1", 1), ("trace_events", str(1 << 22), 1 << 22),
    ("trace_detail", "true", True),
    ("control", '".ctl"', ".ctl"), ("control", "false", None), ("control", '"' + "c" * 255 + '"', "c" * 255),
    ("xattr", "false", False), ("durability", "true", True),
    ("max_rules", "1", 1), ("max_rules", str(1 << 20), 1 << 20),
    ("fsync_error", '"linux"', "linux"), ("fsync_error", '"keep"', "keep"),
    ("fsync_error", '"btrfs"', "btrfs"), ("torn_unit", "1", 1), ("torn_unit", "512", 512),
    ("torn_unit", str(1 << 20), 1 << 20), ("namespace_durability", '"immediate"', "immediate"),
]

BAD = [
    ("max_memory", '"12Q"', "max_memory: not a size: '12Q'"),
    ("max_memory", "-1", "max_memory: a size cannot be negative: -1"),
    ("max_memory", "true", "max_memory: not a size: True"),
    ("max_memory", '"99999999999999T"', "max_memory: '99999999999999T' is larger than off_t's maximum"),
    ("max_file_size", "1.5", "max_file_size: not a size: 1.5"),
    ("writeback_cache", '"yes"', "writeback_cache must be true or false"),
    ("writeback_cache", "1", "writeback_cache must be true or false"),
    ("max_sleeping", "0", "max_sleeping must be an integer in 1..1048576"),
    ("max_sleeping", str((1 << 20) + 1), "max_sleeping must be an integer in 1..1048576"),
    ("max_sleeping", "true", "max_sleeping must be an integer in 1..1048576"),
    ("max_inodes", "0", "max_inodes must be an integer in 1..4294967296"),
    ("max_inodes", '"10"', "max_inodes must be an integer in 1..4294967296"),
    ("trace", '"yes"', "trace must be true or false"),
    ("trace_events", "0", "trace_events must be an integer in 1..4194304"),
    ("trace_events", '"many"', "trace_events must be an integer in 1..4194304"),
    ("trace_detail", "0", "trace_detail must be true or false"),
    ("control", '"a/b"', "control must be a directory name"),
    ("control", '""', "control must be a directory name"),
    ("control", '"."', "control must be a directory name"),
    ("control", '".."', "control must be a directory name"),
    ("control", "true", "control must be a directory name"),
    ("control", '"' + "c" * 256 + '"', "control must be a directory name"),
    ("control", '"a\\u0000"', "control must be a directory name"),
    ("xattr", '"no"', "xattr must be true or false"),
    ("durability", "1", "durability must be true or false"),
    ("max_rules", "0", "max_rules must be an integer in 1..1048576"),
    ("max_rules", "1.0", "max_rules must be an integer in 1..1048576"),
    ("fsync_error", '"ext4"', 'fsync_error must be one of "linux", "keep", "btrfs"'),
    ("fsync_error", "true", 'fsync_error must be one of "linux", "keep", "btrfs"'),
    ("torn_unit", "0", "torn_unit must be an integer in 1..1048576"),
    ("torn_unit", '"4K"', "torn_unit must be an integer in 1..1048576"),
    ("namespace_durability", '"later"', 'namespace_durability must be one of "immediate", "fsync"'),
]


@pytest.mark.parametrize("key,value,kept", GOOD)
def test_an_option_in_range_is_kept_on_the_tree(key, value, kept):
    assert getattr(parse(option(key, value), SRC), key) == kept


@pytest.mark.parametrize("key,value,phrase", BAD)
def test_an_option_out_of_range_is_one_line_naming_it(key, value, phrase):
    assert refused(option(key, value)).startswith(f"{SRC}: [options]: {phrase}")


def test_every_option_is_checked_here():
    assert {k for k, _, _ in GOOD} == {k for k, _, _ in BAD} == set(OPTIONS)
    assert set(OPTIONS) <= set(Tree.__dataclass_fields__)


def test_an_unknown_option_names_the_known_ones():
    message = refused(option("colour", '"red"'))
    assert message == (f"{SRC}: [options]: unknown option 'colour' (" + ", ".join(OPTIONS) + ")")


# ---- sections --------------------------------------------------------------------------------

def test_the_sections_and_the_order_they_are_read_in():
    assert list(SECTIONS) == ["options", "dir", "file", "fault", "device"]


@pytest.mark.parametrize("text,message", [
    ("[devices]\n", "unknown section(s) devices (expected [options], [[device]], [[dir]], [[file]], [[fault]])"),
    ("[b]\n[a]\n", "unknown section(s) a, b (expected [options], [[device]], [[dir]], [[file]], [[fault]])"),
    ("options = 5\n", "[options] must be a table"),
    ("device = 5\n", "device must be written as [[device]] tables"),
    ('dir = "tmp"\n', "dir must be written as [[dir]] tables"),
    ("fault = [1, 2]\n", "fault must be written as [[fault]] tables"),
    ("[device]\npath = 'x'\n", "device must be written as [[device]] tables"),
])
def test_a_section_written_wrongly_is_one_line(text, message):
    assert refused(text) == f"{SRC}: {message}"


def test_text_that_is_not_toml_is_one_line():
    assert refused("[[device]\npath = \n").startswith(f"{SRC}: not valid TOML: ")


# ---- devices -----------------------------------------------------------------------------------

def test_a_device_with_every_node_key_and_a_driver_option():
    tree = parse('[[device]]\npath = "/a//b/"\ndriver = "mem"\nsize = "1M"\nmode = "0640"\n'
                 'uid = 7\ngid = 8\nlimit = "4K"\n', SRC)
    (d,) = tree.devices
    assert (d.path, d.mode, d.uid, d.gid, d.limit) == ("a/b", 0o640, 7, 8, 4096)
    assert isinstance(d.driver, Mem) and d.driver.size == 1 << 20


def test_a_devices_defaults():
    (d,) = parse('[[device]]\npath = "n"\ndriver = "null"\n', SRC).devices
    assert (d.mode, d.uid, d.gid, d.limit, type(d.driver)) == (0o666, 0, 0, None, Null)


@pytest.mark.parametrize("mode,kept", [('"0644"', 0o644), ('"1777"', 0o1777), ('"7777"', 0o7777),
                                       ("420", 420), ('"0"', 0)])
def test_a_mode_is_octal_as_a_string_and_its_value_as_a_number(mode, kept):
    (d,) = parse(f'[[device]]\npath = "n"\ndriver = "null"\nmode = {mode}\n', SRC).devices
    assert d.mode == kept


@pytest.mark.parametrize("mode,phrase", [
    ('"17777"', "mode '17777' out of range"), ("4096", "mode 4096 out of range"),
    ("-1", "mode -1 out of range"), ('"999"', "mode '999' is not octal (e.g. \"0644\")"),
    ('"rw-r--r--"', "is not octal"), ("true", 'mode must be an octal string like "0644"'),
    ("0.5", 'mode must be an octal string like "0644"'),
])
def test_a_mode_out_of_range_or_not_octal_is_refused(mode, phrase):
    message = refused(f'[[device]]\npath = "n"\ndriver = "null"\nmode = {mode}\n')
    assert message.startswith(f"{SRC}: device 'n': ") and phrase in message


@pytest.mark.parametrize("key,value,ok", [
    ("uid", "0", True), ("uid", "4294967294", True), ("gid", "4294967294", True),
    ("uid", "4294967295", False), ("gid", "4294967295", False),  # (uid_t)-1: chown's "no change"
    ("gid", "-1", False), ("gid", "true", False), ("gid", '"5"', False),
])
def test_uid_and_gid_are_ids_of_0_to_id_max(key, value, ok):
    text = f'[[device]]\npath = "n"\ndriver = "null"\n{key} = {value}\n'
    if ok:
        assert getattr(parse(text, SRC).devices[0], key) == int(value)
    else:
        assert refused(text) == f"{SRC}: device 'n': {key} must be an integer in 0..{ID_MAX}"


def test_a_name_of_255_bytes_is_accepted_and_256_refused():
    name255, name256 = "n" * 255, "n" * 256
    assert parse(f'[[device]]\npath = "d/{name255}"\ndriver = "null"\n', SRC).devices[0].path \
        == f"d/{name255}"
    assert parse(f'[[dir]]\npath = "{name255}"\n', SRC).dirs[0].path == name255
    assert refused(f'[[device]]\npath = "d/{name256}"\ndriver = "null"\n') == (
        f"{SRC}: [[device]] #1: a name in 'd/{name256}' is longer than 255 bytes")
    assert refused(f'[[dir]]\npath = "{name256}"\n').endswith("is longer than 255 bytes")
    # bytes, not characters: 128 two-byte characters are 256 bytes
    assert refused('[[device]]\npath = "' + "\u00e9" * 128 + '"\ndriver = "null"\n') \
        .endswith("is longer than 255 bytes")


NEEDS_PATH = '[[device]] #1: needs path = "name" (relative to the mount)'


@pytest.mark.parametrize("text,message", [
    ('[[device]]\ndriver = "null"\n', NEEDS_PATH),
    ('[[device]]\npath = "/"\ndriver = "null"\n', NEEDS_PATH),
    ('[[device]]\npath = 5\ndriver = "null"\n', NEEDS_PATH),
    ('[[device]]\npath = "a\\u0000b"\ndriver = "null"\n',
     "[[device]] #1: path 'a\\x00b' contains a NUL byte"),
    ('[[device]]\npath = "a/../b"\ndriver = "null"\n',
     "[[device]] #1: path 'a/../b' may not contain . or .."),
    ('[[device]]\npath = "./b"\ndriver = "null"\n',
     "[[device]] #1: path './b' may not contain . or .."),
    ('[[device]]\npath = "x"\n', "device 'x': needs driver = \"name\""),
    ('[[device]]\npath = "x"\ndriver = 3\n', "device 'x': needs driver = \"name\""),
    ('[[device]]\npath = "x"\ndriver = "null"\n[[device]]\npath = "x/"\ndriver = "zero"\n',
     "device 'x': declared twice"),
    ('[[device]]\npath = "x"\ndriver = "mem"\nbogus = 1\n',
     "device 'x': driver 'mem' has no option 'bogus' (options: size)"),
    ('[[device]]\npath = "x"\ndriver = "mem"\nsize = "12Q"\n',
     "device 'x': driver 'mem': not a size: '12Q' (use e.g. 4096, 64K, 64M, 1G)"),
    ('[[device]]\npath = "x"\ndriver = "z"\nlimit = "99999999999999T"\n', "device 'x': unknown driver 'z'"),
    ('[[device]]\npath = "x"\ndriver = "zero"\nlimit = "99999999999999T"\n',
     "device 'x': limit: '99999999999999T' is larger than off_t's maximum"),
    ('[[device]]\npath = "x"\ndriver = "zero"\nlimit = "x"\n', "device 'x': limit: not a size: 'x'"),
])
def test_a_device_written_wrongly_is_one_line_naming_it(text, message):
    assert refused(text).startswith(f"{SRC}: {message}")


def test_a_user_driver_that_cannot_be_had_is_one_line():
    assert "cannot import driver module 'no_such_module_of_iofs'" in refused(
        '[[device]]\npath = "x"\ndriver = "no_such_module_of_iofs:X"\n')
    assert "module 'iofs.drivers.null' has no driver class 'Nope'" in refused(
        '[[device]]\npath = "x"\ndriver = "iofs.drivers.null:Nope"\n')
    tree = parse('[[device]]\npath = "x"\ndriver = "iofs.drivers.null:Null"\n', SRC)
    assert type(tree.devices[0].driver) is Null


# ---- directories and faults -------------------------------------------------------------------

def test_a_directory_with_its_keys_and_its_defaults():
    tree = parse('[[dir]]\npath = "a/b"\nmode = "2775"\nuid = 3\ngid = 4\n[[dir]]\npath = "c"\n', SRC)
    assert [(d.path, d.mode, d.uid, d.gid) for d in tree.dirs] == [("a/b", 0o2775, 3, 4),
                                                                  ("c", 0o755, 0, 0)]


@pytest.mark.parametrize("text,message", [
    ('[[dir]]\npath = "d"\n[[dir]]\npath = "d/"\n', "dir 'd': declared twice"),
    ('[[dir]]\npath = "d"\ndriver = "null"\n', "[[dir]] #1: unknown key(s) driver"),
    ('[[dir]]\npath = "d"\nuid = 99999999999\n', f"[[dir]] #1: uid must be an integer in 0..{ID_MAX}"),
    ('[[dir]]\npath = "d"\nmode = "17777"\n', "[[dir]] #1: mode '17777' out of range"),
])
def test_a_directory_written_wrongly_is_one_line(text, message):
    assert refused(text) == f"{SRC}: {message}"


def test_faults_are_rules_parsed_by_the_one_parser():
    tree = parse('[[fault]]\npath = "zero"\nop = ["read"]\ncount = 1\nseed = 3\naction = "short:5"\n'
                 '[[fault]]\nop = "open"\naction = "eacces"\n', SRC)
    assert [str(r) for r in tree.faults] == ["path=zero op=read count=1 seed=3 action=short:5",
                                             f"op=open seed={tree.faults[1].seed} action=eacces"]


def test_a_bad_fault_names_its_table_and_token():
    assert refused('[[fault]]\npath = "zero"\nop = ["read", "wirte"]\naction = "eio"\n'
                   '[[fault]]\naction = "eio"\n').startswith(
        f"{SRC}: [[fault]] #1: bad token 'op=read,wirte': unknown op 'wirte'")
    assert refused('[[fault]]\naction = "eio"\n[[fault]]\naction = "nope"\n').startswith(
        f"{SRC}: [[fault]] #2: bad token 'action=nope'")


@pytest.mark.parametrize("action", ["crash", "crash:before", "crash:torn"])
def test_a_crash_rule_needs_durability(action):
    fault = f'[[fault]]\npath = "tmp/*"\nop = ["write"]\naction = "{action}"\n'
    assert refused(fault) == (f"{SRC}: [[fault]] #1: action {action} needs [options] "
                              "durability = true")
    assert refused('[options]\ndurability = false\n' + fault).endswith("durability = true")
    (rule,) = parse('[options]\ndurability = true\n' + fault, SRC).faults
    assert str(rule.action) == action


def test_more_faults_than_max_rules_is_refused():
    text = '[options]\nmax_rules = 2\n' + '[[fault]]\naction = "eio"\n' * 3
    assert refused(text) == f"{SRC}: 3 [[fault]] tables, more than max_rules (2)"
    assert len(parse('[options]\nmax_rules = 3\n' + '[[fault]]\naction = "eio"\n' * 3, SRC).faults) == 3


# ---- where nodes may be ---------------------------------------------------------------------------

@pytest.mark.parametrize("text,message", [
    ('[[device]]\npath = "dev"\ndriver = "null"\n[[dir]]\npath = "dev/sub"\n',
     "dir 'dev/sub' lies under device 'dev'"),
    ('[[device]]\npath = "a"\ndriver = "null"\n[[device]]\npath = "a/b/c"\ndriver = "null"\n',
     "device 'a/b/c' lies under device 'a'"),
    ('[[device]]\npath = "x"\ndriver = "null"\n[[dir]]\npath = "x"\n',
     "'x' is declared as both a device and a dir"),
    ('[[device]]\npath = ".iofs/x"\ndriver = "null"\n',
     "'.iofs/x' would be inside the control directory '.iofs' (rename it with [options] control = \"...\")"),
    ('[options]\ncontrol = ".ctl"\n[[dir]]\npath = ".ctl"\n',
     "'.ctl' would be inside the control directory '.ctl'"),
])
def test_a_node_where_none_can_be_is_refused(text, message):
    assert refused(text).startswith(f"{SRC}: {message}")


def test_without_a_control_directory_its_name_is_free():
    tree = parse('[options]\ncontrol = false\n[[device]]\npath = ".iofs/x"\ndriver = "null"\n', SRC)
    assert tree.control is None and tree.devices[0].path == ".iofs/x"
    tree = parse('[options]\ncontrol = ".ctl"\n[[dir]]\npath = ".iofs"\n', SRC)
    assert [d.path for d in tree.dirs] == [".iofs"]


# ---- reading the file --------------------------------------------------------------------------

def test_load_reads_a_file_and_names_it_in_its_errors(tmp_path):
    cfg = tmp_path / "tree.toml"
    cfg.write_text('[[device]]\npath = "z"\ndriver = "zero"\n')
    assert [d.path for d in load(str(cfg)).devices] == ["z"]
    cfg.write_text("[devices]\n")
    with pytest.raises(ConfigError, match=f"^{cfg}: unknown section"):
        load(str(cfg))


def test_load_of_what_is_not_a_small_regular_utf8_file_is_one_line(tmp_path):
    def message(path) -> str:
        with pytest.raises(ConfigError) as ei:
            load(str(path))
        assert "\n" not in str(ei.value)
        return str(ei.value)

    assert message(tmp_path / "missing.toml") == \
        f"cannot read config {tmp_path / 'missing.toml'}: No such file or directory"
    assert message("/dev/zero") == "/dev/zero: not a regular file"
    assert message(tmp_path) == f"{tmp_path}: not a regular file"
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert message(fifo) == f"{fifo}: not a regular file"     # and no hang without a writer
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * MAX_CONFIG + b"\n")
    assert message(big) == f"{big}: larger than 16 MiB: not a config"
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b"# caf\xe9\n")
    assert message(latin) == f"{latin}: not UTF-8 text"
    exact = tmp_path / "exact.toml"
    exact.write_bytes(b"#" * (MAX_CONFIG - 1) + b"\n")         # exactly the largest allowed
    assert load(str(exact)).devices == []


def test_off_max_is_the_largest_size_an_option_takes():
    assert parse(option("max_memory", str(OFF_MAX)), SRC).max_memory == OFF_MAX
    assert "larger than off_t's maximum" in refused(option("max_memory", str(OFF_MAX + 1)))
