"""One class per target type that builds the target and looks at its storage behind its back.

The contract tests use only the Target API plus these few peeks: raw bytes at a root-relative
path, every stored name, anything stored outside the root, and planting a leftover temporary.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from replication.local.target import LocalTarget
from replication.s3.keys import encode_key
from replication.s3.target import S3Target
from replication.sftp.target import SftpTarget
from replication.target import TEMP_PREFIX, Target, temp_name


def _files_under(top: Path) -> list[bytes]:
    found = []
    for folder, _dirs, files in os.walk(bytes(top)):
        found += [os.path.relpath(os.path.join(folder, name), bytes(top)) for name in files]
    return sorted(found)


class FilesystemCase:
    """Local and SFTP targets: the root is a folder on this machine; ``home`` holds only the root."""

    target: Target
    home: Path
    root: Path

    def raw(self, rel: bytes) -> bytes | None:
        try:
            return (Path(os.fsdecode(bytes(self.root) + b"/" + rel))).read_bytes()
        except FileNotFoundError:
            return None

    def names(self) -> list[bytes]:
        return _files_under(self.root)

    def outside(self) -> list[str]:
        return sorted(name for name in os.listdir(self.home) if name != self.root.name)

    def plant_temporary(self, folder: bytes, tag: str | None = None) -> None:
        """A crashed copy's temporary: untagged (jaga before run tags), or of the run ``tag``."""
        where = Path(os.fsdecode(bytes(self.root) + (b"/" + folder if folder else b"")))
        where.mkdir(parents=True, exist_ok=True)
        (where / os.fsdecode(temp_name(tag) if tag else TEMP_PREFIX + b"crashed")).write_bytes(b"half a file")


class LocalCase(FilesystemCase):
    kind = "local"

    def __init__(self, tmp_path: Path):
        self.home = tmp_path / "disk"
        self.root = self.home / "replica"
        self.home.mkdir()
        self.target = LocalTarget("secondary", self.root)


class SftpCase(FilesystemCase):
    kind = "sftp"

    def __init__(self, server, **overrides):
        self.home = Path(server.remote_dir("case"))
        self.root = self.home / "replica"
        self.home.mkdir()
        os.chown(self.home, server.uid, server.gid)
        self.config = server.target_config("remote", str(self.root), **overrides)
        self.target = SftpTarget(self.config)


class S3Case:
    kind = "s3"

    def __init__(self, moto, credentials: Path, node: str | None = None, **overrides):
        """``node``: a shared target (``shared: true``) as that node sees it; its peeks look in its area."""
        overrides.setdefault("multipart_threshold", 5 * 1024 * 1024)
        self.config = moto.target_config("cloud", credentials, shared=node is not None, **overrides)
        self.target = S3Target(self.config, node=node)
        self.prefix = self.target.names.area
        self.root = self.target.names.root
        self._client.create_bucket(Bucket=self.config.bucket)  # present but empty: "marker missing"

    @property
    def _client(self):
        return self.target.client

    def _objects(self) -> list[str]:
        pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self.config.bucket)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def raw(self, rel: bytes) -> bytes | None:
        try:
            reply = self._client.get_object(Bucket=self.config.bucket, Key=self.prefix + encode_key(rel))
        except self._client.exceptions.NoSuchKey:
            return None
        return reply["Body"].read()

    def names(self) -> list[bytes]:
        return sorted(name[len(self.prefix):].encode() for name in self._objects()
                      if name.startswith(self.prefix))

    def outside(self) -> list[str]:
        """Outside the prefix, or (shared) outside the own area and not the fleet's marker."""
        return [name for name in self._objects()
                if not name.startswith(self.prefix) and name != self.target.names.marker]

    def plant_temporary(self, folder: bytes, tag: str | None = None) -> None:
        """A crash mid-multipart leaves an unfinished upload and maybe a staging object."""
        name = self.target.names.temp(tag or "crashed")
        self._client.create_multipart_upload(Bucket=self.config.bucket, Key=name)
        self._client.put_object(Bucket=self.config.bucket, Key=self.target.names.temp(tag or "crashed"), Body=b"half")


def random_bytes(size: int) -> bytes:
    return secrets.token_bytes(size)
