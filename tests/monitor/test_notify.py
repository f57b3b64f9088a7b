"""Notifications reach real local receivers: an HTTP sink, an aiosmtpd SMTP sink, apprise's json://."""

from __future__ import annotations

import socket

import pytest

from tests.monitor.helpers import WebhookSink, wait_for
from monitor.notify import AppriseNotifier, Dispatcher, Notification, SmtpNotifier, WebhookNotifier
from monitor.settings import AlertsConfig

NOTE = Notification("DiskFailing", "critical", "disk sda (ST380011A, serial 5JV9BNJ6)",
                    "Current_Pending_Sector (197) = 661", 1_700_000_000.0, "firing", "disk:sda:DiskFailing")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def dispatcher(notifiers, results):
    return Dispatcher(notifiers, AlertsConfig(notify_attempts=3, notify_backoff=0.01),
                      on_result=lambda name, ok: results.append((name, ok)))


def test_webhook_is_retried_until_delivered():
    sink = WebhookSink(fail_first=2)
    results = []
    sender = dispatcher([WebhookNotifier(sink.url, timeout=5)], results)
    try:
        sender.submit(NOTE)
        [payload] = wait_for(lambda: sink.received)
        assert payload == {"name": "DiskFailing", "severity": "critical", "subject": NOTE.subject,
                           "summary": NOTE.summary, "started": "2023-11-14T22:13:20+00:00", "status": "firing",
                           "key": "disk:sda:DiskFailing"}
        wait_for(lambda: results)
        assert results == [(f"webhook 127.0.0.1:{sink.server.server_address[1]}", True)]
    finally:
        sender.close()
        sink.close()


def test_a_dead_notifier_fails_quietly_and_others_still_deliver():
    dead_port = free_port()
    sink = WebhookSink()
    results = []
    sender = dispatcher([WebhookNotifier(f"http://127.0.0.1:{dead_port}/", timeout=1),
                         WebhookNotifier(sink.url, timeout=5)], results)
    try:
        sender.submit(NOTE)
        wait_for(lambda: sink.received)
        # the sink has the note before the dispatcher hears back and records the result: wait for both
        wait_for(lambda: len(results) == 2)
        assert [ok for _, ok in results] == [False, True]
    finally:
        sender.close()
        sink.close()


def test_smtp_delivers_to_a_local_sink():
    aiosmtpd = pytest.importorskip("aiosmtpd.controller")
    from aiosmtpd.handlers import Message

    class Inbox(Message):
        def __init__(self):
            super().__init__()
            self.messages = []

        def handle_message(self, message):
            self.messages.append(message)

    inbox = Inbox()
    port = free_port()
    controller = aiosmtpd.Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    results = []
    sender = dispatcher([SmtpNotifier(f"smtp://127.0.0.1:{port}", "jaga@example.org", ["oncall@example.org"], 5)],
                        results)
    try:
        sender.submit(NOTE)
        [message] = wait_for(lambda: inbox.messages)
        assert " ".join(message["Subject"].split()) == "[jaga FIRING critical] DiskFailing: disk sda (ST380011A, serial 5JV9BNJ6)"
        assert message["To"] == "oncall@example.org"
        assert "Current_Pending_Sector (197) = 661" in message.get_payload()
    finally:
        sender.close()
        controller.stop()


def test_apprise_url_delivers():
    sink = WebhookSink()
    results = []
    host, port = sink.server.server_address
    sender = dispatcher([AppriseNotifier(f"json://{host}:{port}/hook")], results)
    try:
        sender.submit(NOTE)
        [payload] = wait_for(lambda: sink.received)
        assert payload["title"].startswith("[jaga FIRING critical] DiskFailing")
        assert "Current_Pending_Sector" in payload["message"]
    finally:
        sender.close()
        sink.close()
