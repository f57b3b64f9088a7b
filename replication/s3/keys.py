"""Object names: jaga's byte keys under the configured prefix, reversibly and readably.

S3 keys must be UTF-8, jaga keys are any bytes. Valid UTF-8 stays as it is; '%', control characters
and bytes that are not UTF-8 become %XX, so every key maps to exactly one object name and back.
"""

from __future__ import annotations

import secrets
import time
from urllib.parse import unquote_to_bytes

from replication.target import MARKER_NAME, META_DIR, TEMP_PREFIX, temp_name

META = META_DIR.decode()
VERSIONS = META + "/versions/"
MANIFEST_DIR = META + "/manifest/"
TEMP_DIR = META + "/tmp/"


def encode_key(key: bytes) -> str:
    text = key.decode("utf-8", "surrogateescape")
    out = []
    for char in text:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:          # a byte that was not UTF-8
            out.append(f"%{code - 0xDC00:02X}")
        elif char == "%" or code < 0x20 or code == 0x7F:
            out.append(f"%{code:02X}")
        else:
            out.append(char)
    return "".join(out)


def decode_key(name: str) -> bytes:
    return unquote_to_bytes(name.encode("utf-8"))


def check_prefix(prefix: str) -> str:
    """The prefix as a folder ('' or 'a/b/'); '..', '.' and empty components are refused."""
    stripped = prefix.strip("/")
    if not stripped:
        return ""
    if any(part in ("", ".", "..") for part in stripped.split("/")):
        raise ValueError(f"S3 prefix {prefix!r} has an empty, '.' or '..' component")
    return stripped + "/"


NODES_DIR = "nodes/"


class ObjectNames:
    """Every object name the target uses, all under ``root`` (the checked prefix).

    A shared target (``node`` given) keeps the marker at the root, one for the fleet, and everything
    else under ``<root>nodes/<node>/`` (``area``): data, manifest segments, versions, temporaries. So
    nodes never collide on a key nor sweep each other's temporaries, and each node's manifest lists
    its own files only. Without a node, ``area`` is the root: a single server's layout, unchanged.
    """

    def __init__(self, prefix: str, node: str | None = None):
        self.root = check_prefix(prefix)
        self.area = self.root if node is None else self.root + NODES_DIR + check_prefix(node)

    def data(self, key: bytes) -> str:
        """``key`` must already have passed check_key (or be a version key)."""
        return self.area + encode_key(key)

    @property
    def marker(self) -> str:
        return self.root + MARKER_NAME

    @property
    def manifest_dir(self) -> str:
        return self.area + MANIFEST_DIR

    @property
    def temp_dir(self) -> str:
        return self.area + TEMP_DIR

    def manifest_segment(self) -> str:
        """A new segment, sorting after every earlier one from this clock."""
        return f"{self.manifest_dir}{time.time_ns():020d}-{secrets.token_hex(4)}.jsonl"

    def temp(self, tag: str) -> str:
        return self.temp_dir + temp_name(tag).decode()

    def relative(self, name: str) -> str | None:
        """The part of an object name after the area; None for objects outside it."""
        return name[len(self.area):] if name.startswith(self.area) else None

    def is_data(self, relative: str) -> bool:
        first = relative.split("/", 1)[0]
        return first not in (META, MARKER_NAME) and not any(
            part.startswith(TEMP_PREFIX.decode()) for part in relative.split("/"))
