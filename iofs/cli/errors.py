"""How the ``iofs`` command fails: one line on stderr, and an exit status."""

from __future__ import annotations

import argparse

EXIT_USAGE = 2  # a mistake in what the user asked (a bad config, rule, option)
EXIT_FAIL = 1   # anything else


class CliError(Exception):
    """A failure to report as one line; ``status`` is the exit status."""

    def __init__(self, message: str, status: int = EXIT_FAIL) -> None:
        super().__init__(message)
        self.status = status


class Parser(argparse.ArgumentParser):
    """argparse, with a usage mistake said in one line (exit status 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"iofs: {message} (see: {self.prog} --help)\n")


__all__ = ["CliError", "Parser", "EXIT_USAGE", "EXIT_FAIL"]
