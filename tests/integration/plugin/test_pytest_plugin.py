"""The pytest plugin, tested as a user's project uses it: inner test files run by pytester in a
pytest of their own, where a failing inner test is seen to fail and no mount outlives a run."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(300)


from .conftest import _run


def test_fixtures_handles_and_teardown(pytester, no_mount_left):
    pytester.makepyfile(test_inner='''
        import errno, os
        import pytest

        def test_default_tree(iofs_mount):
            with open(iofs_mount.path / "zero", "rb") as f:
                assert f.read(4) == bytes(4)
            assert {"zero", "mem0", "pipe0", "tmp"} <= set(os.listdir(iofs_mount.path))

        def test_fault_trace_clear(iofs_mount):
            p = iofs_mount.path / "tmp" / "input"
            p.write_bytes(b"0123456789")
            rid = iofs_mount.fault("path=tmp/input op=read action=short:3")
            fd = os.open(p, os.O_RDONLY)
            try:
                assert os.read(fd, 100) == b"012"
                iofs_mount.clear(rid)
                assert os.read(fd, 100) == b"3456789"
            finally:
                os.close(fd)
            reads = iofs_mount.trace(path="tmp/input", op="read")
            assert [e["moved"] for e in reads[:2]] == [3, 7]
            assert reads[0]["rule"] == rid and reads[1]["rule"] is None
            assert all(e["pid"] == os.getpid() for e in reads)
            assert iofs_mount.rules() == ""

        def test_factory_config_forms(iofs_mount_factory, tmp_path):
            a = iofs_mount_factory('[[device]]\\npath = "m"\\ndriver = "mem"\\nsize = "4K"\\n')
            cfg = tmp_path / "tree.toml"
            cfg.write_text('[[device]]\\npath = "t"\\ndriver = "text"\\ncontent = "file form"\\n')
            b = iofs_mount_factory(cfg)
            c = iofs_mount_factory({"device": [{"path": "z", "driver": "zero"}],
                                    "fault": [{"path": "z", "op": ["read"], "action": "eio"}]})
            d = iofs_mount_factory(durability=True)
            assert os.stat(a.path / "m").st_size == 4096
            assert (b.path / "t").read_text() == "file form"
            with pytest.raises(OSError) as ei:
                (c.path / "z").read_bytes()
            assert ei.value.errno == errno.EIO
            (d.path / "tmp" / "f").write_bytes(b"lost")
            assert d.crash() == ["tmp/f"]
            assert (d.path / "tmp" / "f").read_bytes() == b""
            assert len({a.path, b.path, c.path, d.path}) == 4

        def test_wait_for(iofs_mount):
            import threading, time
            def later():
                time.sleep(0.3)
                for _ in range(3):
                    with open(iofs_mount.path / "mem0", "rb") as f:
                        f.read(10)
            t = threading.Thread(target=later)
            t.start()
            events = iofs_mount.wait_for(op="read", path="mem0", count=3, timeout=10)
            t.join()
            assert [e["op"] for e in events] == ["read"] * 3

        def test_handle_extras(iofs_mount_factory):
            m = iofs_mount_factory(durability=True)
            assert (m / "zero") == m.path / "zero"
            (m / "tmp" / "f").write_bytes(b"unsynced")
            assert m.unsynced() == [(8, "tmp/f")]
            m.fault("path=zero action=eio")
            assert m.rules().startswith("1 hits=0 path=zero seed=")
            assert "mounted " in m.log()

        def test_unmount_early(iofs_mount):
            p = iofs_mount.path
            iofs_mount.unmount()
            assert "fuse.iofs" not in open("/proc/self/mounts").read().split(str(p))[-1][:20]
            iofs_mount.unmount()  # twice is fine
    ''')
    result = _run(pytester, "-v")
    result.assert_outcomes(passed=6)


def test_each_tests_mounts_are_gone_before_the_next_test(pytester, no_mount_left):
    """A test's mounts are unmounted, and their daemons gone, at that test's teardown: not
    later, at the end of the session (where the plugin's backstop would hide it)."""
    pytester.makepyfile(test_order='''
        import os

        SEEN = []

        def _iofs_mounts():
            with open("/proc/self/mounts") as f:
                return {line.split()[1] for line in f if line.split()[2] == "fuse.iofs"}

        def test_mounts_two(iofs_mount_factory):
            for _ in range(2):
                m = iofs_mount_factory()
                SEEN.append((str(m.path), m._mount.pid))
            assert {p for p, _ in SEEN} <= _iofs_mounts()

        def test_they_are_gone_now():
            assert len(SEEN) == 2
            assert [p for p, _ in SEEN if p in _iofs_mounts()] == []
            for _, pid in SEEN:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    continue
                state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
                assert state == "Z", f"daemon {pid} still running"
    ''')
    _run(pytester, "-v").assert_outcomes(passed=2)


def test_a_failing_inner_test_fails_and_still_unmounts(pytester, no_mount_left):
    pytester.makepyfile(test_failing='''
        def test_sees_a_short_read(iofs_mount):
            iofs_mount.fault("path=zero op=read action=short:1")
            with open(iofs_mount.path / "zero", "rb", buffering=0) as f:
                assert len(f.read(100)) == 100   # fails: the read is short

        def test_raises(iofs_mount_factory):
            iofs_mount_factory()
            iofs_mount_factory()
            raise RuntimeError("the test itself blew up")

        def test_wait_for_times_out(iofs_mount):
            iofs_mount.wait_for(op="write", path="mem0", timeout=0.5)
    ''')
    result = _run(pytester)
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(["*assert 1 == 100*", "*the test itself blew up*",
                                 "*0 of 1 requests (op=write, path=mem0) served within 0.5 s*"])


def test_a_timed_out_test_still_unmounts(pytester, no_mount_left):
    pytester.makepyfile(test_hang='''
        import time
        import pytest

        @pytest.mark.timeout(2, method="signal")
        def test_hangs(iofs_mount):
            time.sleep(30)
    ''')
    result = _run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*Timeout*"])


def test_bad_tree_fails_with_the_reason(pytester, no_mount_left):
    pytester.makepyfile(test_bad='''
        def test_bad(iofs_mount_factory):
            iofs_mount_factory('[[device]]\\npath = "x"\\ndriver = "nosuch"\\n')
    ''')
    result = _run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*iofs mount failed:*unknown driver 'nosuch'*"])


def test_skipped_with_the_reason_where_no_mount_can_be_had(pytester, tmp_path):
    """No /dev/fuse in this mount namespace: skipped, with the reason, never passed."""
    pytester.makepyfile(test_nofuse='''
        def test_needs_a_mount(iofs_mount):
            raise AssertionError("must not run")
    ''')
    script = (f"mount --bind {tmp_path}/empty /dev 2>/dev/null || exit 99; "
              f"exec {sys.executable} -m pytest -p no:cacheprovider -rs {pytester.path}")
    (tmp_path / "empty").mkdir()
    res = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                         capture_output=True, text=True, timeout=120, cwd=pytester.path)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert "1 skipped" in res.stdout
    assert "iofs cannot mount on this machine: /dev/fuse is missing" in res.stdout


def test_under_xdist_each_worker_has_its_own_mounts(pytester, no_mount_left):
    pytester.makepyfile(test_parallel='''
        import os
        import pytest

        @pytest.mark.parametrize("k", range(4))
        def test_own_mount(iofs_mount, k):
            p = iofs_mount.path / "tmp" / "mine"
            p.write_text(str(k))
            assert os.listdir(iofs_mount.path / "tmp") == ["mine"]
            assert p.read_text() == str(k)
    ''')
    result = _run(pytester, "-n", "2")
    result.assert_outcomes(passed=4)


def test_a_mount_no_teardown_reached_is_unmounted_at_session_end(pytester, no_mount_left):
    """The plugin's backstop: a mount still registered when the session ends (its test's
    teardown never ran) is unmounted by pytest_sessionfinish."""
    pytester.makepyfile(test_leak='''
        from iofs.testing import pytest_plugin
        from iofs.testing.mount import Mount

        def test_leaves_one(tmp_path):
            m = Mount(tmp_path).start()
            pytest_plugin._live.add(m)   # as if its fixture's teardown never came
            assert m.mounted
    ''')
    result = _run(pytester)
    result.assert_outcomes(passed=1)


def test_the_factory_serves_a_host_directory(pytester, no_mount_left):
    """``iofs_mount_factory(source=...)``: a project's own files, with faults and crash."""
    pytester.makepyfile(test_inner='''
        import os

        def test_source(iofs_mount_factory, tmp_path):
            data = tmp_path / "data"
            data.mkdir()
            (data / "input").write_bytes(b"0123456789")
            m = iofs_mount_factory(source=data, durability=True)
            assert sorted(os.listdir(m.path)) == [".iofs", "input"]
            m.fault("path=input op=read action=short:4")
            fd = os.open(m.path / "input", os.O_RDONLY)
            try:
                assert os.read(fd, 100) == b"0123"
            finally:
                os.close(fd)
            (m.path / "out").write_bytes(b"never fsynced")
            assert (data / "out").read_bytes() == b"never fsynced"
            assert m.crash() == ["out"]
            assert (data / "out").read_bytes() == b""
    ''')
    res = _run(pytester)
    res.assert_outcomes(passed=1)
