"""Build a Target from its config section; the only place that knows every backend."""

from __future__ import annotations

from replication.target import Target


def build_target(config) -> Target:
    if config.type == "local":
        from replication.local import LocalTarget
        return LocalTarget(config.name, config.path)
    if config.type == "sftp":
        from replication.sftp import SftpTarget
        return SftpTarget(config)
    if config.type == "s3":
        from replication.s3 import S3Target
        return S3Target(config)
    raise ValueError(f"unknown target type {config.type!r}")
