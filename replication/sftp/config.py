"""The ``targets[]`` section of ``type: sftp``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from common.configtypes import Duration, Secret, Size
from replication.targetconfig import TargetBase


class SftpTargetConfig(TargetBase):
    type: Literal["sftp"]
    host: str
    port: int = Field(default=22, ge=1, le=65535)
    user: str
    key_file: Path
    key_passphrase: Secret | None = Field(default=None, description="for an encrypted key_file: inline, "
                                          "{file: PATH} or {env: VARIABLE}")
    known_hosts: Path = Field(description="pinned host keys; unknown or changed keys make the target down")
    path: str = Field(description="remote root folder")
    timeout: Duration = 30.0
    bandwidth: Size | None = Field(default=None, description="bytes per second, e.g. 10MiB")
    remote_sha256: bool = Field(default=False, description="verify with the server's sha256sum over exec")
