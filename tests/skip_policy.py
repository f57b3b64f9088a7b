"""CI refuses skips: with ``JAGA_TEST_DISALLOW_SKIP=1`` (set by ``.ci/run``) every skip — ``pytest.skip``,
``skipif`` marks, ``importorskip``, a fixture that skips, a module skipped at collection — is reported as a
failure with its reason, as restic's ``RESTIC_TEST_DISALLOW_SKIP`` does. A test that would otherwise
pass with less (a part it leaves out where a tool is missing) calls ``degraded(reason)``.

conftest.py imports the hooks; ``pytest -p tests.skip_policy`` loads them anywhere else.
"""

from __future__ import annotations

import os
import warnings

import pytest

VARIABLE = "JAGA_TEST_DISALLOW_SKIP"


def skips_disallowed() -> bool:
    return os.environ.get(VARIABLE, "") not in ("", "0")


def _refused(reason: str) -> str:
    return f"skipped, but {VARIABLE} is set (CI runs everything; .ci/run installs what it needs): {reason}"


def _reason(report) -> str:
    longrepr = report.longrepr
    return longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if skips_disallowed() and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = _refused(_reason(report))


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if skips_disallowed() and report.skipped:
        report.outcome = "failed"
        report.longrepr = _refused(_reason(report))


def degraded(reason: str) -> None:
    """A part of a test cannot run here: a failure in CI, a warning elsewhere."""
    if skips_disallowed():
        pytest.fail(_refused(reason))
    warnings.warn(f"part of this test did not run: {reason}", stacklevel=2)
