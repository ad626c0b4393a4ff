"""Helpers shared by the test suite: mounting through the one Mount, processes and system
calls, test data, the CLI, driver modules and programs. Imported as ``tests.support.X``;
fixtures stay in the conftest.py files."""
