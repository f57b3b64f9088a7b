"""`jaga verify --repair`: rewrite a missing or corrupt replica from the primary, or else from another
target whose copy still has the right hash."""

from __future__ import annotations

import logging

from journal.records import display
from replication.source import SourceChanged, SourceFile
from replication.target import Target, TargetDown, TargetError
from replication.verify import Expected, VerifyReport

log = logging.getLogger("jaga.repair")


def repair(report: VerifyReport, target: Target, roots: dict[str, bytes], others: list[Target]) -> None:
    for item in report.missing + report.corrupt:
        source = _from_primary(item, target, roots) or _from_other_replica(item, target, others)
        if source is not None:
            report.repaired.append(item.key)
            log.info("target %s: repaired %s from %s", target.name, display(item.key), source)
        else:
            log.error("target %s: cannot repair %s: no good copy on the primary or another target",
                      target.name, display(item.key))


def _from_primary(item: Expected, target: Target, roots: dict[str, bytes]) -> str | None:
    root = roots.get(item.watch)
    if root is None:
        return None
    try:
        with SourceFile(root, item.path, item.size, item.mtime_ns, item.sha256) as source:
            target.put(item.key, source.chunks(), item.mtime_ns, None)
            target.flush()
    except (SourceChanged, OSError, TargetError) as exc:
        log.debug("primary copy of %s unusable: %s", display(item.key), exc)
        return None
    return "the primary" if target.checksum(item.key) == item.sha256 else None


def _from_other_replica(item: Expected, target: Target, others: list[Target]) -> str | None:
    for other in others:
        try:
            if other.checksum(item.key) != item.sha256:
                continue
            target.put(item.key, _checked(other.open_read(item.key), item.sha256), item.mtime_ns, None)
            target.flush()
            if target.checksum(item.key) == item.sha256:
                return f"target {other.name}"
        except (TargetDown, TargetError, OSError, ValueError) as exc:
            log.warning("could not repair %s from %s: %s", display(item.key), other.name, exc)
    return None


def _checked(chunks, sha256: str):
    """Pass the bytes on, and refuse (before the target renames them into place) if they hash wrong."""
    import hashlib
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
        yield chunk
    if digest.hexdigest() != sha256:
        raise ValueError("the other replica changed while it was read")
