"""``python -m bench.alerting [--scrape-interval 15s]``: seconds from ``kill -9 jaga`` to JagaDown firing in
a real Prometheus running the shipped rules unchanged, and to Alertmanager delivering the page; and
whether the TargetDown that was firing was ever reported resolved meanwhile. Takes about 3 minutes
(TargetDown's and JagaDown's ``for: 1m`` both run out)."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from tests.paging import kill_and_measure


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.alerting", description=__doc__)
    parser.add_argument("--scrape-interval", default="15s", help="Prometheus scrape and evaluation interval")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="bench-alerting-"))
    try:
        result = kill_and_measure(folder, None, watch_after=20.0, timeout=400.0, interval=args.scrape_interval)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    load = os.getloadavg()[0]
    print(f"scrape/evaluation interval {args.scrape_interval}, load {load:.1f}: kill -9 → JagaDown firing "
          f"{result.jagadown_firing_s:.1f} s, page delivered by Alertmanager {result.jagadown_received_s:.1f} s; "
          f"TargetDown reported resolved meanwhile: {'yes: ' + '; '.join(result.targetdown_resolved[:3]) if result.targetdown_resolved else 'no'}")
    return 1 if result.targetdown_resolved else 0


if __name__ == "__main__":
    sys.exit(main())
