"""One row per figure: jaga's, the peer's, their ratio and whether the target is met; printed as
markdown and saved as JSON + markdown in bench/results/."""

from __future__ import annotations

import json
import math
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Row:
    workload: str
    metric: str
    unit: str
    jaga: float
    peer: float | None = None
    peer_name: str = ""
    target: str = ""
    goal: str = ""            # "ratio<", "ratio<=", "ratio>=", "abs<=", "abs>=": how ``limit`` applies
    limit: float | None = None
    samples: dict = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.peer is None or not self.peer or math.isnan(self.peer) or math.isnan(self.jaga):
            return None
        return self.jaga / self.peer

    @property
    def met(self) -> bool | None:
        value = self.jaga if self.goal.startswith("abs") else self.ratio
        if self.limit is None or value is None or math.isnan(value):
            return None
        return {"ratio<": value < self.limit, "ratio<=": value <= self.limit,
                "ratio>=": value >= self.limit, "abs<=": value <= self.limit, "abs>=": value >= self.limit}[self.goal]


def _num(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "—"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def markdown(rows: list[Row]) -> str:
    lines = ["| workload | metric | jaga | peer | ratio jaga/peer | target | met? |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        peer = f"{_num(row.peer)} ({row.peer_name})" if row.peer is not None else "—"
        met = {True: "yes", False: "**no**", None: "—"}[row.met]
        ratio = _num(row.ratio) if row.ratio is not None else "—"
        lines.append(f"| {row.workload} | {row.metric} ({row.unit}) | {_num(row.jaga)} | {peer} | {ratio} "
                     f"| {row.target} | {met} |")
    return "\n".join(lines)


def save(rows: list[Row], command: str, settings: dict) -> tuple[Path, Path]:
    """Write results/bench-<time>.json and .md (and latest.*) and return their paths."""
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    meta = {"command": command, "when": time.strftime("%Y-%m-%d %H:%M:%S %z"), "host": platform.node(),
            "python": platform.python_version(), "settings": settings}
    doc = {**meta, "rows": [{**asdict(r), "ratio": r.ratio, "met": r.met} for r in rows]}
    text = f"`{command}` — {meta['when']}\n\n{markdown(rows)}\n"
    paths = RESULTS / f"bench-{stamp}.json", RESULTS / f"bench-{stamp}.md"
    for json_path, md_path in (paths, (RESULTS / "latest.json", RESULTS / "latest.md")):
        json_path.write_text(json.dumps(doc, indent=1, default=str) + "\n")
        md_path.write_text(text)
    return paths
