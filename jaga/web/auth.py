"""HTTP basic auth against bcrypt hashes, as the exporter-toolkit's ``basic_auth_users`` does.

bcrypt is slow on purpose (about a quarter of a second per check at cost 10), far too slow to pay on
every 15-second scrape, so a password that checked out is remembered, per user, as an HMAC under a
key made at start: the next request with it costs microseconds. Wrong passwords are never remembered
and always pay the full price, and at most SLOW_CHECKS of them run at once, so a password-guessing
flood costs the replication threads at most that many cores' worth of a slice.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import threading

import bcrypt

BCRYPT = re.compile(r"^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$")
SLOW_CHECKS = 2


def is_bcrypt(hashed: str) -> bool:
    """A modular-crypt bcrypt hash ($2a$, $2b$ or $2y$, cost 4-31) that bcrypt itself accepts."""
    found = BCRYPT.match(hashed)
    if not found or not 4 <= int(found.group(1)) <= 31:
        return False
    try:
        bcrypt.checkpw(b"", hashed.encode())
    except ValueError:
        return False
    return True


class BasicAuth:
    def __init__(self, users: dict[str, bytes]):
        self._users = dict(users)
        self._key = os.urandom(32)
        self._verified: dict[str, bytes] = {}   # user -> HMAC of the password that last checked out
        self._lock = threading.Lock()
        self._slow = threading.BoundedSemaphore(SLOW_CHECKS)
        self.slow_checks = 0    # bcrypt verifications run, remembered ones not counted
        # an unknown user's password is checked against a real hash (and refused whatever the result),
        # so the answer's timing does not tell which user names exist
        self._decoy = next(iter(self._users.values()))

    def __len__(self) -> int:
        return len(self._users)

    def check(self, authorization: str | None) -> str | None:
        """The user an ``Authorization: Basic ...`` header proves, or None."""
        credentials = _parse(authorization)
        if credentials is None:
            return None
        user, password = credentials
        digest = hmac.new(self._key, user + b"\0" + password, hashlib.sha256).digest()
        name = user.decode("utf-8", "replace")
        with self._lock:
            remembered = self._verified.get(name)
        if remembered is not None and hmac.compare_digest(remembered, digest):
            return name
        hashed = self._users.get(name)
        with self._slow:
            self.slow_checks += 1
            try:
                good = bcrypt.checkpw(password, hashed if hashed is not None else self._decoy)
            except ValueError:   # e.g. a password longer than bcrypt's 72 bytes
                good = False
        if not good or hashed is None:
            return None
        with self._lock:
            self._verified[name] = digest
        return name


def _parse(authorization: str | None) -> tuple[bytes, bytes] | None:
    if not authorization:
        return None
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = decoded.partition(b":")
    return (user, password) if sep else None
