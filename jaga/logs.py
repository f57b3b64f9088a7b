"""Logging to stderr: one line per thing worth knowing; text for people, JSON lines for machines."""

from __future__ import annotations

import json
import logging
import os
import sys
import time


class JsonFormatter(logging.Formatter):
    def __init__(self, timestamps: bool):
        super().__init__()
        self.timestamps = timestamps

    def format(self, record: logging.LogRecord) -> str:
        doc = {"level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        if self.timestamps:
            doc["time"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + \
                f".{int(record.msecs):03d}Z"
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def under_systemd() -> bool:
    """journald stamps each line itself; our own timestamps would only double them."""
    return bool(os.environ.get("JOURNAL_STREAM") or os.environ.get("INVOCATION_ID"))


def setup_logging(level: str = "info", fmt: str = "text") -> None:
    timestamps = not under_systemd()
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(timestamps))
    else:
        pattern = "%(levelname)s %(name)s: %(message)s"
        handler.setFormatter(logging.Formatter(("%(asctime)s " if timestamps else "") + pattern))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("apscheduler", "paramiko", "botocore", "boto3", "urllib3", "s3transfer",
                  "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
