"""A real Prometheus scrapes jaga with the shipped rules and a real Alertmanager pages: kill -9 jaga and
JagaDown is paged, while the TargetDown that was firing stays firing (it used to be told "resolved"
about 9 s after the kill). The rules' ``for:`` are scaled down (1m → 3s, 5m → 6s) so the test takes
seconds; bench/alerting.py measures the shipped durations."""

from __future__ import annotations

import pytest

from tests.paging import kill_and_measure
from tests.servers.prometheus import ALERTMANAGER, unavailable

REASON = unavailable("prometheus") or unavailable(ALERTMANAGER)


@pytest.mark.skipif(bool(REASON), reason=REASON or "")
def test_kill_9_pages_jagadown_and_target_down_is_never_resolved(tmp_path):
    result = kill_and_measure(tmp_path, scale={"1m": "3s", "5m": "6s"}, watch_after=6.0)
    assert result.targetdown_resolved == [], result.targetdown_resolved
    # scrape 1s + for 3s + evaluation 1s; generous for a loaded machine
    assert result.jagadown_firing_s < 30, result
    print(f"kill -9 → JagaDown firing {result.jagadown_firing_s:.1f}s, received {result.jagadown_received_s:.1f}s")
