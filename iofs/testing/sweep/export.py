"""The sweep as files: ``--json FILE`` (every case: its rule, class, exit status, signal,
timings; the clean run; the counts) and ``--junit FILE`` (JUnit XML: a testcase per case, a
``<failure>`` for each finding of the chosen classes and an ``<error>`` for each run that could
not be made, so that CI systems show the findings as failed tests)."""

from __future__ import annotations

import json
import os
import platform
import xml.etree.ElementTree as ET
from typing import Any

from .outcome import CLASSES
from .report import finding_lines
from .result import Group, Result

JSON_VERSION = 1
_NOT_XML = {c: "\ufffd" for c in range(32) if c not in (9, 10, 13)} | {0xFFFE: "\ufffd", 0xFFFF: "\ufffd"}


def _x(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot hold (a program's output may)."""
    return text.translate(_NOT_XML).encode("utf-8", "replace").decode("utf-8")


def as_json(r: Result) -> dict[str, Any]:
    return {
        "version": JSON_VERSION,
        "kind": r.kind,
        "command": r.command,
        "ops": r.ops,
        "actions": r.actions,
        "only": list(r.only),
        "clean": r.clean.as_json(),
        "seen": r.seen,
        "requests": r.requests,
        "cases_total": r.cases_total,
        "left_out": r.skipped,
        "chosen": r.chosen,
        "notes": r.notes,
        "runs": len(r.runs),
        "counts": r.counts(),
        "seconds": round(r.seconds, 3),
        "fault_seconds": round(r.fault_seconds, 3),
        "runs_per_second": round(r.rate(), 3),
        "jobs": r.jobs,
        "stderr_stable": r.stderr_stable,
        "unfired": r.unfired,
        "interrupted": r.interrupted,
        "exit_status": r.exit_status,
        "cases": [run.as_json() for run in r.runs],
    }


def write_json(r: Result, path: str | os.PathLike) -> None:
    with open(path, "w") as f:
        json.dump(as_json(r), f, indent=1)
        f.write("\n")


def junit(r: Result) -> ET.ElementTree:
    """The JUnit XML of a sweep: one testsuite, a testcase per case."""
    chosen = [run for run in r.runs if run.cls in CLASSES and run.cls in r.only]
    errors = r.errors
    suite = ET.Element("testsuite", {
        "name": _x("iofs sweep " + " ".join(r.command)), "tests": str(len(r.runs)),
        "failures": str(len(chosen)), "errors": str(len(errors)), "skipped": "0",
        "time": f"{r.seconds:.3f}", "hostname": platform.node()})
    props = ET.SubElement(suite, "properties")
    for name, value in (("ops", ",".join(r.ops)), ("actions", ",".join(r.actions)),
                        ("only", ",".join(r.only)), ("cases_total", str(r.cases_total)),
                        ("clean", r.clean.status_text())):
        ET.SubElement(props, "property", {"name": name, "value": value})
    for run in r.runs:
        tc = ET.SubElement(suite, "testcase", {
            "classname": f"iofs.sweep.{run.case.request.op}", "name": _x(run.case.rule),
            "time": f"{run.outcome.seconds:.3f}"})
        if run.cls == "error":
            ET.SubElement(tc, "error", {"type": "ERROR", "message": _x(run.outcome.error or "")})
        elif run.cls in r.only and run.cls in CLASSES:
            fail = ET.SubElement(tc, "failure", {"type": run.cls.upper(), "message": _x(run.what)})
            details = finding_lines(Group([f for f in r.findings if f.run is run]), True, r)
            fail.text = _x("\n".join(details[1:]))
        elif run.cls is not None:
            ET.SubElement(tc, "system-out").text = _x(f"{run.cls.upper()} (not chosen): {run.what}")
    root = ET.Element("testsuites", {"name": "iofs sweep", "tests": str(len(r.runs)),
                                     "failures": str(len(chosen)), "errors": str(len(errors))})
    root.append(suite)
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(r: Result, path: str | os.PathLike) -> None:
    junit(r).write(path, encoding="utf-8", xml_declaration=True)


__all__ = ["as_json", "write_json", "junit", "write_junit", "JSON_VERSION"]
