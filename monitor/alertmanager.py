"""A notifier that posts jaga's own alerts to the Alertmanager a team already runs (``/api/v2/alerts``),
so SMART, target and scrub alerts join its routing, silences and inhibition.

Alertmanager forgets an alert whose ``endsAt`` has passed, so a firing alert is re-posted at every
target evaluation (``Dispatcher.refresh``) with ``endsAt`` ``hold`` ahead. If jaga dies its alerts
stay firing for that long rather than being declared resolved by silence (JagaDown pages for the
daemon meanwhile); a real resolution is posted at once with ``endsAt`` now.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from urllib.parse import urlsplit

from monitor.conditions import subject_labels
from monitor.notify import Notification, iso


class AlertmanagerNotifier:
    refreshes = True   # re-posted while firing (see Dispatcher.refresh)

    def __init__(self, url: str, timeout: float, hold: float, instance: str | None = None, clock=time.time):
        self.endpoint = url.rstrip("/") + "/api/v2/alerts"
        self.timeout, self.hold, self.clock = timeout, hold, clock
        self.instance = instance or socket.gethostname()
        self.name = f"alertmanager {urlsplit(url).netloc}"

    def send(self, note: Notification) -> None:
        self.send_all([note])

    def send_all(self, notes: list[Notification]) -> None:
        body = json.dumps([self.alert(note) for note in notes]).encode()
        request = urllib.request.Request(self.endpoint, data=body, method="POST",
                                         headers={"Content-Type": "application/json", "User-Agent": "jaga"})
        with urllib.request.urlopen(request, timeout=self.timeout) as response:   # non-2xx raises HTTPError
            response.read()

    def alert(self, note: Notification) -> dict:
        now = self.clock()
        ends = now if note.status == "resolved" else now + self.hold
        labels = {"alertname": note.name, "severity": note.severity, "instance": self.instance, "job": "jaga",
                  **subject_labels(note.key, note.name)}
        return {"labels": labels, "annotations": {"summary": note.summary, "subject": note.subject},
                "startsAt": iso(note.started), "endsAt": iso(ends)}
