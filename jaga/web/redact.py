"""What a visitor who is not authenticated may see: everything but disk serial numbers.

A serial number identifies a physical disk for the warranty and for a thief alike; on-call staff who
need it log in (basic auth or a client certificate) or run `jaga disks` on the server. The serial is
blanked where it is a field (the disk summary, the ``serial`` label of /metrics) and each serial the
monitor reports is masked wherever it was written into a sentence (an alert's subject, a reason).
Upload file names never reach these views at all: target errors keep them apart (``exc.path``).
"""

from __future__ import annotations

import copy

from jaga.web.source import StatusSource

HIDDEN = "(hidden)"


def redacted(source: StatusSource) -> "RedactedSource":
    return RedactedSource(source)


class RedactedSource:
    """A StatusSource wrapper; what it does not override it passes through."""

    def __init__(self, source: StatusSource):
        self._source = source
        self._serials: list[str] | None = None

    def __getattr__(self, name: str):
        return getattr(self._source, name)

    @property
    def registry(self) -> "_RedactedRegistry":
        return _RedactedRegistry(self._source.registry)

    def disk_summary(self) -> list[dict]:
        disks = []
        for disk in self._source.disk_summary():
            disk = dict(disk, serial=None)
            disk["reasons"] = [self.mask(reason) for reason in disk.get("reasons") or []]
            if disk.get("error"):
                disk["error"] = self.mask(disk["error"])
            disks.append(disk)
        return disks

    def firing_alerts(self) -> list[dict]:
        return [dict(alert, subject=self.mask(alert.get("subject") or ""),
                     summary=self.mask(alert.get("summary") or "")) for alert in self._source.firing_alerts()]

    def watch_problems(self) -> list[str]:
        return [self.mask(problem) for problem in self._source.watch_problems()]

    def mask(self, text: str) -> str:
        for serial in self._known_serials():
            text = text.replace(serial, HIDDEN)
        return text

    def _known_serials(self) -> list[str]:
        if self._serials is None:
            found = {str(d["serial"]) for d in self._source.disk_summary() if d.get("serial")}
            self._serials = sorted(found, key=len, reverse=True)   # longest first: no half-masked serial
        return self._serials


class _RedactedRegistry:
    """The registry as /metrics serves it to a visitor not authenticated: ``serial`` labels blanked."""

    def __init__(self, registry):
        self._registry = registry

    def collect(self):
        for family in self._registry.collect():
            if any("serial" in sample.labels for sample in family.samples):
                family = copy.copy(family)
                family.samples = [sample._replace(labels={**sample.labels, "serial": ""})
                                  if "serial" in sample.labels else sample for sample in family.samples]
            yield family
