"""Notifiers: webhook (JSON POST), e-mail over SMTP, and any apprise URL.

Deliveries run on one background thread, in order, each retried with doubling delays; a notifier
that keeps failing is logged and counted, and the daemon goes on. Nothing here raises to callers.
"""

from __future__ import annotations

import json
import logging
import queue
import smtplib
import ssl
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from monitor.settings import AlertsConfig, Notifier

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notification:
    name: str           # the alertname, e.g. DiskFailing
    severity: str       # critical | warning
    subject: str        # what it is about: "disk sda", "/srv/uploads"
    summary: str
    started: float
    status: str         # firing | resolved
    key: str = ""

    def payload(self) -> dict:
        return {"name": self.name, "severity": self.severity, "subject": self.subject, "summary": self.summary,
                "started": iso(self.started), "status": self.status, "key": self.key}

    def title(self) -> str:
        return f"[jaga {self.status.upper()} {self.severity}] {self.name}: {self.subject}"

    def body(self) -> str:
        return f"{self.summary}\n\nstatus: {self.status}\nsince: {iso(self.started)}\nkey: {self.key}\n"


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")


class WebhookNotifier:
    def __init__(self, url: str, timeout: float):
        where = urlsplit(url)   # the name is logged: no user:password@ from the URL in it
        port = f":{where.port}" if where.port else ""
        self.url, self.timeout, self.name = url, timeout, f"webhook {where.hostname}{port}"

    def send(self, note: Notification) -> None:
        request = urllib.request.Request(self.url, data=json.dumps(note.payload()).encode(), method="POST",
                                         headers={"Content-Type": "application/json", "User-Agent": "jaga"})
        with urllib.request.urlopen(request, timeout=self.timeout) as response:   # non-2xx raises HTTPError
            response.read()


class SmtpNotifier:
    """smtp://[user[:password]@]host[:port][?starttls=1] or smtps://... (implicit TLS); the password
    rather from ``password`` (a file or the environment) than from the URL."""

    def __init__(self, url: str, sender: str, to: list[str], timeout: float, password: str | None = None):
        self.url, self.sender, self.to, self.timeout = urlsplit(url), sender, to, timeout
        self._password = password if password is not None else unquote(self.url.password or "")
        self.name = f"smtp {self.url.hostname}"
        if not to:
            raise ValueError("an smtp notifier needs 'to' recipients")

    def send(self, note: Notification) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, ", ".join(self.to), note.title()
        message.set_content(note.body())
        url = self.url
        secure = url.scheme == "smtps"
        client = smtplib.SMTP_SSL if secure else smtplib.SMTP
        port = url.port or (465 if secure else 25)
        with client(url.hostname, port, timeout=self.timeout) as smtp:
            if parse_qs(url.query).get("starttls") == ["1"]:
                smtp.starttls(context=ssl.create_default_context())
            if url.username:
                smtp.login(unquote(url.username), self._password)
            smtp.send_message(message)


class AppriseNotifier:
    def __init__(self, url: str):
        import apprise
        self.apprise = apprise.Apprise()
        if not self.apprise.add(url):
            raise ValueError(f"apprise does not understand {url.split(':', 1)[0]}:// URLs")
        self.name = f"apprise {url.split(':', 1)[0]}"

    def send(self, note: Notification) -> None:
        if not self.apprise.notify(title=note.title(), body=note.body()):
            raise RuntimeError("apprise reported the notification as not sent")


def build_notifiers(settings: list[Notifier]) -> list:
    notifiers = []
    for item in settings:
        if item.webhook:
            notifiers.append(WebhookNotifier(item.webhook, item.timeout))
        if item.smtp:
            password = item.password.get_secret_value() if item.password else None
            notifiers.append(SmtpNotifier(item.smtp, item.sender, item.to, item.timeout, password))
        if item.apprise:
            notifiers.append(AppriseNotifier(item.apprise))
        if item.alertmanager:
            from monitor.alertmanager import AlertmanagerNotifier   # it imports the conditions, which import us
            notifiers.append(AlertmanagerNotifier(item.alertmanager, item.timeout, item.hold, item.instance))
    return notifiers


class Dispatcher:
    """Delivers notifications on one thread; ``on_result(notifier_name, ok)`` feeds the metrics."""

    def __init__(self, notifiers: list, config: AlertsConfig,
                 on_result: Callable[[str, bool], None] = lambda name, ok: None,
                 sleep: Callable[[float], bool] | None = None):
        self.notifiers = notifiers
        self.attempts, self.backoff = config.notify_attempts, config.notify_backoff
        self.on_result = on_result
        self._queue: queue.Queue = queue.Queue()
        self._stopping = threading.Event()
        self._sleep = sleep or self._stopping.wait
        self._thread = threading.Thread(target=self._run, name="jaga-notify", daemon=True)
        self._thread.start()

    def submit(self, note: Notification) -> None:
        if self.notifiers:
            self._queue.put(note)

    def refresh(self, firing: list[Notification]) -> None:
        """Re-post what is firing to the notifiers that forget alerts not re-sent (Alertmanager)."""
        if any(getattr(n, "refreshes", False) for n in self.notifiers):
            self._queue.put(list(firing))

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued (retries cut short), then stop."""
        self._stopping.set()
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if isinstance(item, list):
                self._refresh(item)
                continue
            for notifier in self.notifiers:
                self._deliver(notifier, item)

    def _refresh(self, firing: list[Notification]) -> None:
        """One try each: the next evaluation refreshes again, well before the alerts' endsAt."""
        for notifier in self.notifiers:
            if not getattr(notifier, "refreshes", False) or not firing:
                continue
            try:
                notifier.send_all(firing)
            except Exception as exc:  # noqa: BLE001 - a notifier must never stop the daemon
                log.warning("%s: refreshing %d firing alert(s) failed: %s", notifier.name, len(firing), exc)
                self.on_result(notifier.name, False)

    def _deliver(self, notifier, note: Notification) -> None:
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            try:
                notifier.send(note)
                self.on_result(notifier.name, True)
                return
            except Exception as exc:  # noqa: BLE001 - a notifier must never stop the daemon
                log.warning("%s: %s %s failed (attempt %d/%d): %s", notifier.name, note.name, note.status,
                            attempt, self.attempts, exc)
            if attempt < self.attempts and self._sleep(delay):
                break
            delay *= 2
        self.on_result(notifier.name, False)
