"""A failed test that ran the daemon shows the daemon's own log: a failure seen once in CI is read there,
not guessed at. Loaded by conftest.py (``pytest_plugins``)."""

from __future__ import annotations

import pytest

LINES = 80


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    for name, value in getattr(item, "funcargs", {}).items():
        log_tail = getattr(value, "log_tail", None)
        if callable(log_tail):
            report.sections.append((f"the daemon's log ({name}, last {LINES} lines)", log_tail(LINES)))
