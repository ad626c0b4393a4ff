"""A sweep's result as objects, lines, JSON and JUnit XML, from runs made up here: grouping of
alike findings, --only, the exit status, the one line and the -v details. In process."""

from __future__ import annotations

import json
import signal
import xml.etree.ElementTree as ET

from iofs.testing.sweep import export, report
from iofs.testing.sweep.cases import Case, Request
from iofs.testing.sweep.outcome import Capture, Outcome
from iofs.testing.sweep.result import Result, judge


def output(data: bytes):
    c = Capture(None)
    c.feed(data)
    return c.close()


def outcome(exit=0, sig=None, stdout=b"records=4\n", stderr=b"", fired=1):
    o = Outcome(exit, sig, output(stdout), output(stderr), seconds=0.01)
    o.fired = fired
    return o


def case(k, action="short:1", op="read"):
    return Case(Request(k, "input", op, k, moved=16), action, action)


def result(only=("silent", "loud", "crash", "hang")):
    clean = outcome()
    r = Result(["./prog", "{mnt}/input"], clean, ["read"], ["short:1", "eio"], {"read": 5},
               requests=5, cases_total=10, skipped=0, chosen=6, only=only)
    runs = [(case(1), outcome(stdout=b"records=5\n")),
            (case(2), outcome(stdout=b"records=5\n")),          # alike: grouped with the first
            (case(3), outcome(stdout=b"records=9\n")),
            (case(1, "eio"), outcome(exit=1, stdout=b"", stderr=b"read: Input/output error\n")),
            (case(2, "eio"), outcome(exit=None, sig=signal.SIGSEGV, stdout=b"")),
            (case(4), outcome(fired=0)),
            (case(5), Outcome.failed("the mount went away"))]
    r.runs = [judge(c, o, clean, True) for c, o in runs]
    r.seconds = r.fault_seconds = 2.0
    return r


def test_classes_groups_and_exit_status():
    r = result()
    assert [f.cls for f in r.findings] == ["silent", "silent", "silent", "loud", "crash"]
    assert len(r.silent) == 3 and len(r.loud) == 1 and len(r.crash) == 1 and r.hang == []
    groups = r.groups()
    assert [len(g.findings) for g in groups] == [2, 1, 1, 1]
    assert r.counts() == {"silent": 3, "loud": 1, "crash": 1, "hang": 0, "same": 1, "error": 1}
    assert r.unfired == 1 and r.exit_status == 1
    assert str(r.silent[0]) == ("SILENT path=input op=read nth=1 action=short:1: exit 0 as clean, "
                                "stdout differs at line 1: 'records=4' -> 'records=5'")


def test_only_filters_what_is_found_and_the_exit_status():
    r = result(only=("hang",))
    assert r.findings == []
    r.runs = [x for x in r.runs if x.cls != "error"]
    assert r.exit_status == 0
    r.interrupted = signal.SIGTERM
    assert r.exit_status == 143


def test_one_line_per_group_and_the_details_with_verbose():
    r = result()
    lines = report.findings(r)
    assert lines[0] == ("SILENT path=input op=read nth=1 action=short:1: exit 0 as clean, stdout "
                        "differs at line 1: 'records=4' -> 'records=5' [+1 alike: nth=2 action=short:1]")
    assert lines[-1] == "ERROR path=input op=read nth=5 action=short:1: the mount went away"
    assert len(lines) == 5
    verbose = report.findings(r, verbose=True)
    assert "  reproduce: iofs fault MNT add 'path=input op=read nth=1 action=short:1'" in verbose
    assert "    -records=4" in verbose and "    +records=5" in verbose
    assert "    read: Input/output error" in verbose
    summary = report.summary(r)
    assert summary[0].startswith("sweep: 7 runs in 2.0 s (3.5 runs/s): SILENT 3, LOUD 1, CRASH 1, "
                                 "HANG 0; 1 as clean; 1 could not be made")
    assert any("in 1 runs the rule never fired" in ln for ln in summary)
    assert any("3 of 10 cases not run" in ln for ln in summary)


def test_json_has_every_case(tmp_path):
    r = result()
    export.write_json(r, tmp_path / "r.json")
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["runs"] == 7 and len(doc["cases"]) == 7 and doc["exit_status"] == 1
    first = doc["cases"][0]
    assert first["class"] == "silent" and first["rule"] == "path=input op=read nth=1 action=short:1"
    assert first["exit"] == 0 and first["signal"] is None and "seconds" in first
    assert doc["cases"][4]["signal"] == "SIGSEGV" and doc["cases"][4]["class"] == "crash"
    assert doc["counts"]["error"] == 1


def test_junit_parses_with_a_testcase_per_case(tmp_path):
    r = result(only=("silent", "crash"))
    r.runs[0].outcome.stdout = output(b"bad \x01 byte \x1b[0m\n")  # not XML: replaced
    r.runs[0].what = "stdout differs \x01"
    export.write_junit(r, tmp_path / "r.xml")
    root = ET.parse(tmp_path / "r.xml").getroot()
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == 7 and suite.get("tests") == "7"
    failures = [c.find("failure") for c in cases if c.find("failure") is not None]
    assert [f.get("type") for f in failures] == ["SILENT", "SILENT", "SILENT", "CRASH"]
    assert suite.get("failures") == "4" and suite.get("errors") == "1"
    assert cases[3].find("system-out").text.startswith("LOUD (not chosen)")
    assert "reproduce: iofs fault MNT add" in failures[0].text
