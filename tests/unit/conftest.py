"""Fixtures of the unit tests."""

from __future__ import annotations

import warnings

import pytest


@pytest.fixture
def no_warnings():
    """Any warning raised in the test is an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield
