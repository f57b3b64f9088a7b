"""Fixtures for the monitor tests; the helpers behind them live in helpers.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.monitor.helpers import RECORDINGS, FakeSmartctl, WebhookSink


@pytest.fixture(scope="session")
def recordings() -> Path:
    """The vendored recordings (tests/fixtures/smartctl): part of every clone, never skipped."""
    return RECORDINGS


@pytest.fixture
def fake_smartctl(tmp_path, recordings) -> FakeSmartctl:
    return FakeSmartctl(tmp_path, recordings)


@pytest.fixture
def journal(tmp_path):
    from journal import Journal
    db = Journal(f"sqlite:///{tmp_path / 'journal.db'}")
    db.migrate()
    yield db
    db.close()


@pytest.fixture
def webhook():
    sink = WebhookSink()
    yield sink
    sink.close()
