"""A target's own record of what it holds (its manifest), taken into the journal, so that losing the
journal (it lives on the primary disk) loses no history: files, versions, hashes, verified replicas.

Numbering continues from the target's: a file the journal already knows, whose versions were never
replicated anywhere yet (it was observed while the target could not be read), is renumbered after
the manifest's versions. A version number holding other bytes in the journal than on the target is
reported as a conflict and left alone (the target keeps both: see Target.put).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import and_, insert, select, update

from journal.engine import Database
from journal.ingest import CHUNK, _file_rows
from journal.models import FileRow, Replica, Version
from journal.records import AdoptReport, KnownVersion, ReplicaState, display
from journal.targets import insert_target


class History(Database):
    def has_files(self) -> bool:
        with self.reading() as session:
            return session.execute(select(FileRow.id).where(FileRow.node == self.node).limit(1)).first() is not None

    def adopt_target(self, target: str, marker_id: str, known: Iterable[KnownVersion]) -> AdoptReport:
        """Record ``target`` (if new) and every version its manifest lists, in one transaction: the
        journal meets a target together with its history, or not at all."""
        report = AdoptReport(target)
        grouped = _grouped(known, report)
        with self.session() as session:
            insert_target(session, self.target_owner(target), target, marker_id)  # another node may adopt it too
            conn = session.connection()
            keys = list(grouped)
            for start in range(0, len(keys), CHUNK):
                chunk = keys[start:start + CHUNK]
                rows = _file_rows(conn, self.node, chunk)
                _insert_files(conn, self.node, target, {k: grouped[k] for k in chunk if k not in rows}, report)
                for key in chunk:
                    if key in rows:
                        _merge(conn, target, key, rows[key][0], rows[key][1], grouped[key], report)
        return report


def _grouped(known: Iterable[KnownVersion], report: AdoptReport) -> dict[tuple[str, bytes], dict[int, KnownVersion]]:
    """(watch, path) → {number: version}; a number listed twice with other bytes keeps its first entry."""
    grouped: dict[tuple[str, bytes], dict[int, KnownVersion]] = {}
    for version in known:
        numbers = grouped.setdefault((version.watch, version.path), {})
        first = numbers.setdefault(version.number, version)
        if first.sha256 != version.sha256:
            report.conflicts.append(f"{version.watch}/{display(version.path)} v{version.number}: listed twice "
                                    "with other bytes (an earlier journal's numbering); the first is taken")
    return grouped


def _insert_files(conn, node: str, target: str, files: dict, report: AdoptReport) -> None:
    if not files:
        return
    table = FileRow.__table__
    newest = {key: numbers[max(numbers)] for key, numbers in files.items()}
    ids = conn.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), [
        {"node": node, "watch": watch, "path": path, "current_version": v.number, "size": v.size, "mtime_ns": v.mtime_ns,
         "inode": None} for (watch, path), v in newest.items()]).all()
    report.files += len(ids)
    for (key, numbers), (file_id,) in zip(files.items(), ids):
        _insert_versions(conn, target, file_id, list(numbers.values()), report)


def _insert_versions(conn, target: str, file_id: int, known: list[KnownVersion], report: AdoptReport) -> None:
    table = Version.__table__
    ids = conn.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), [
        {"file_id": file_id, "number": v.number, "size": v.size, "mtime_ns": v.mtime_ns, "sha256": v.sha256,
         "seen_at": v.replicated_at, "completed_at": v.replicated_at} for v in known]).all()
    report.versions += len(ids)
    _insert_verified(conn, target, [(vid, v.replicated_at) for (vid,), v in zip(ids, known)], report)


def _insert_verified(conn, target: str, versions: list[tuple[int, float]], report: AdoptReport) -> None:
    if versions:
        conn.execute(insert(Replica.__table__), [
            {"version_id": vid, "target": target, "state": ReplicaState.VERIFIED, "attempts": 0,
             "next_attempt_at": 0.0, "created_at": at, "verified_at": at} for vid, at in versions])
        report.replicas += len(versions)


def _merge(conn, target: str, key: tuple[str, bytes], file_id: int, current: int, manifest: dict[int, KnownVersion],
           report: AdoptReport) -> None:
    """A file the journal knows: continue its numbering from the target's if the journal's own numbers
    were never published, then record each manifest version (added, or matched and marked verified)."""
    ours = _versions(conn, file_id)
    if ours and not _published(conn, list(ours.values())):
        current = _renumber(conn, file_id, current, ours, manifest)
        ours = _versions(conn, file_id)
        report.renumbered += 1
    replicas = Replica.__table__
    missing = []
    for number, known in sorted(manifest.items()):
        if number not in ours:
            missing.append(known)
            continue
        version_id, sha256, size, mtime_ns = ours[number]
        if sha256 != known.sha256 and not (sha256 is None and (size, mtime_ns) == (known.size, known.mtime_ns)):
            report.conflicts.append(f"{key[0]}/{display(key[1])} v{number}: the target holds other bytes than "
                                    "the journal's version of that number")
            continue
        if sha256 is None:
            conn.execute(update(Version.__table__).where(Version.__table__.c.id == version_id)
                         .values(sha256=known.sha256))
        updated = conn.execute(update(replicas).where(replicas.c.version_id == version_id,
                                                      replicas.c.target == target).values(
            state=ReplicaState.VERIFIED, last_error=None, verified_at=known.replicated_at)).rowcount
        if updated:
            report.replicas += 1
        else:
            _insert_verified(conn, target, [(version_id, known.replicated_at)], report)
    if missing:
        _insert_versions(conn, target, file_id, missing, report)
        newest = max(missing, key=lambda v: v.number)
        if newest.number > current:
            conn.execute(update(FileRow.__table__).where(FileRow.__table__.c.id == file_id).values(
                current_version=newest.number, size=newest.size, mtime_ns=newest.mtime_ns))


def _versions(conn, file_id: int) -> dict[int, tuple[int, str | None, int, int]]:
    rows = conn.execute(select(Version.id, Version.number, Version.sha256, Version.size, Version.mtime_ns)
                        .where(Version.file_id == file_id))
    return {number: (vid, sha, size, mtime) for vid, number, sha, size, mtime in rows}


def _published(conn, versions: list[tuple]) -> bool:
    """Any of these versions replicated, or being copied, anywhere: its number is on some target."""
    ids = [v[0] for v in versions]
    return conn.execute(select(Replica.id).where(
        and_(Replica.version_id.in_(ids), Replica.state.in_((ReplicaState.VERIFIED, ReplicaState.COPYING))))
        .limit(1)).first() is not None


def _renumber(conn, file_id: int, current: int, ours: dict, manifest: dict[int, KnownVersion]) -> int:
    """Shift the journal's versions after the manifest's newest; the journal's oldest is that newest
    version itself when they have the same size and mtime (the file did not change meanwhile)."""
    top, lowest = max(manifest), min(ours)
    _vid, _sha, size, mtime_ns = ours[lowest]
    same = (size, mtime_ns) == (manifest[top].size, manifest[top].mtime_ns)
    offset = top - lowest + (0 if same else 1)
    if offset == 0:
        return current
    versions, files = Version.__table__, FileRow.__table__
    # two steps, so the (file, number) uniqueness holds after each statement
    conn.execute(update(versions).where(versions.c.file_id == file_id).values(number=-(versions.c.number + offset)))
    conn.execute(update(versions).where(versions.c.file_id == file_id).values(number=-versions.c.number))
    conn.execute(update(files).where(files.c.id == file_id).values(current_version=current + offset))
    return current + offset
