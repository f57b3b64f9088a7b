"""SQLAlchemy models. Timestamps are Unix seconds (float) so SQLite and PostgreSQL agree exactly.

Paths are stored as bytes (``LargeBinary``): upload names are not always UTF-8, and a journal that
cannot round-trip a name cannot restore it.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


SHARED_TARGET = "*"  # targets.node of a target every node writes (a shared bucket)


class TargetRow(Base):
    """A target the journal has met: its marker id proves later that the same target is mounted."""

    __tablename__ = "targets"
    node: Mapped[str] = mapped_column(String(63), primary_key=True)  # its node, or SHARED_TARGET for all
    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    marker_id: Mapped[str] = mapped_column(String(64))
    initialised_at: Mapped[float] = mapped_column(Float)


class FileRow(Base):
    """One path under one watch; points at its newest version."""

    __tablename__ = "files"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node: Mapped[str | None] = mapped_column(String(63), nullable=True)  # NULL: written before 0006
    watch: Mapped[str] = mapped_column(String(255))
    path: Mapped[bytes] = mapped_column(LargeBinary)
    current_version: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    inode: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # a replaced file has a new one
    deleted_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    __table_args__ = (UniqueConstraint("node", "watch", "path", name="uq_files_node_watch_path"),
                      Index("ix_files_node_watch_inode", "node", "watch", "inode"))


class Version(Base):
    """The bytes of a file at one moment: size, mtime and (once read) SHA-256."""

    __tablename__ = "versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("files.id"))
    number: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    seen_at: Mapped[float] = mapped_column(Float)
    completed_at: Mapped[float] = mapped_column(Float)
    __table_args__ = (UniqueConstraint("file_id", "number", name="uq_versions_file_number"),
                      Index("ix_versions_completed_at", "completed_at"))


class Replica(Base):
    """One version on one target, and where it stands."""

    __tablename__ = "replicas"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"))
    target: Mapped[str] = mapped_column(String(63))
    state: Mapped[str] = mapped_column(String(16))  # a journal.records.ReplicaState
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    verified_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(32), nullable=True)  # boot id of the copying process
    __table_args__ = (UniqueConstraint("version_id", "target", name="uq_replicas_version_target"),
                      Index("ix_replicas_target_state_due", "target", "state", "next_attempt_at"))


class Skip(Base):
    """A path that is not replicated, and why (symlink, fifo, unreadable, ...)."""

    __tablename__ = "skips"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node: Mapped[str | None] = mapped_column(String(63), nullable=True)  # NULL: written before 0006
    watch: Mapped[str] = mapped_column(String(255))
    path: Mapped[bytes] = mapped_column(LargeBinary)
    reason: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    seen_at: Mapped[float] = mapped_column(Float)
    __table_args__ = (UniqueConstraint("node", "watch", "path", name="uq_skips_node_watch_path"),)


class SmartSample(Base):
    """A SMART counter at one poll, kept so that a rise between polls can alert."""

    __tablename__ = "smart_samples"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node: Mapped[str | None] = mapped_column(String(63), nullable=True)  # NULL: written before 0006
    device: Mapped[str] = mapped_column(String(255))
    polled_at: Mapped[float] = mapped_column(Float)
    attribute: Mapped[str] = mapped_column(String(128))
    value: Mapped[str] = mapped_column(String(64))  # text: real drives report counters beyond 2**64
    __table_args__ = (Index("ix_smart_samples_device_attr_time", "device", "attribute", "polled_at"),)


class Alert(Base):
    """One alert's life: firing, maybe re-notified, then resolved."""

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node: Mapped[str | None] = mapped_column(String(63), nullable=True)  # NULL: written before 0006
    key: Mapped[str] = mapped_column(String(255))
    alertname: Mapped[str] = mapped_column(String(128))
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(255))
    summary: Mapped[str] = mapped_column(Text)
    started_at: Mapped[float] = mapped_column(Float)
    resolved_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_notified_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    __table_args__ = (Index("ix_alerts_key_state", "key", "state"),)


class ScrubRun(Base):
    """One scheduled re-read of a target: when, how much, what it found."""

    __tablename__ = "scrubs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node: Mapped[str | None] = mapped_column(String(63), nullable=True)  # NULL: written before 0006
    target: Mapped[str] = mapped_column(String(63))
    started_at: Mapped[float] = mapped_column(Float)
    finished_at: Mapped[float] = mapped_column(Float)
    checked: Mapped[int] = mapped_column(Integer)
    bytes_read: Mapped[int] = mapped_column(BigInteger)
    missing: Mapped[int] = mapped_column(Integer)
    corrupt: Mapped[int] = mapped_column(Integer)
    unexpected: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    __table_args__ = (Index("ix_scrubs_target_finished", "target", "finished_at"),)


class NodeRow(Base):
    """The process that writes one node's part of the journal, as it last registered: its boot id tells
    its claims and temporaries from those of its earlier runs (and, in a fleet, of other nodes)."""

    __tablename__ = "nodes"
    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    boot_id: Mapped[str] = mapped_column(String(32))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    command: Mapped[str] = mapped_column(String(32))
    version: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[float] = mapped_column(Float)
    heartbeat_at: Mapped[float] = mapped_column(Float)
    stopped_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class Heartbeat(Base):
    """One row, rewritten by /readyz's probe: proof that the journal still takes a write."""

    __tablename__ = "heartbeat"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    beat_at: Mapped[float] = mapped_column(Float)
