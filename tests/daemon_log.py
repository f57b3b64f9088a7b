"""A failed test that ran the daemon shows the daemon's own log: a failure seen once in CI is read there,
not guessed at. Loaded by conftest.py (``pytest_plugins``).

Shown: every warning, error and traceback line of the whole log (the cause is often minutes before the
end), its last lines, and what the journal says of the replicas (how many in each state, and a few
that are not verified, with their errors)."""

from __future__ import annotations

import re

import pytest

TAIL = 40
NOTABLE = 60
_NOTABLE = re.compile(r" (WARNING|ERROR|CRITICAL) |^Traceback|^\s+File \"|^\w+(Error|Exception)\b")


def notable_lines(text: str, limit: int = NOTABLE) -> str:
    found = [line for line in text.splitlines() if _NOTABLE.search(line)]
    more = f"\n… and {len(found) - limit} more" if len(found) > limit else ""
    return "\n".join(found[:limit]) + more if found else "(none)"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    for name, value in getattr(item, "funcargs", {}).items():
        log_path = getattr(value, "log_path", None)
        if log_path is None or not hasattr(value, "log_tail"):
            continue
        try:
            text = log_path.read_text(errors="replace")
        except OSError:
            continue
        report.sections.append((f"the daemon's warnings and errors ({name})", notable_lines(text)))
        report.sections.append((f"the daemon's log ({name}, last {TAIL} lines)", value.log_tail(TAIL)))
        if hasattr(value, "journal_rows"):
            report.sections.append((f"the journal's replicas ({name})", replica_summary(value)))


def replica_summary(deployment) -> str:
    try:
        states = deployment.journal_rows("SELECT target, state, count(*) FROM replicas GROUP BY target, state")
        stuck = deployment.journal_rows(
            "SELECT f.path, v.number, r.target, r.state, r.attempts, r.next_attempt_at, r.last_error FROM replicas r "
            "JOIN versions v ON v.id = r.version_id JOIN files f ON f.id = v.file_id "
            "WHERE r.state NOT IN ('verified', 'superseded') ORDER BY r.id LIMIT 10")
        files = deployment.journal_rows("SELECT count(*), sum(deleted_at IS NULL) FROM files")
    except Exception as exc:  # no journal (yet), another database: nothing to show
        return f"(cannot read the journal: {exc})"
    lines = [f"files: {files[0][0]} rows, {files[0][1]} current"]
    lines += [f"{target} {state}: {count}" for target, state, count in states]
    lines += [f"  not verified: {bytes(path)!r} v{number} on {target}: {state}, {attempts} attempt(s), due "
              f"{due:.1f}, {error}" for path, number, target, state, attempts, due, error in stuck]
    return "\n".join(lines)
