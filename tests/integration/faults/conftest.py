"""Fixtures of the fault rule tests: one mount of the default tree per test module, left with no
rule after each test."""

from __future__ import annotations

import pytest

from iofs.testing import client
from tests.support.mounting import mounted


@pytest.fixture(scope="module")
def m(tmp_path_factory):
    with mounted(tmp_path_factory.mktemp("faults")) as mnt:
        yield mnt


@pytest.fixture(autouse=True)
def _no_rules_left(request):
    yield
    if "m" in request.fixturenames:
        client.clear_rules(request.getfixturevalue("m").path)
