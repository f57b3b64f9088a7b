"""The ``targets[]`` section of ``type: s3``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from common.configtypes import Duration, Size
from replication.targetconfig import TargetBase


class S3TargetConfig(TargetBase):
    type: Literal["s3"]
    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    profile: str | None = None
    credentials_file: Path | None = None
    multipart_threshold: Size = 64 * 1024 * 1024
    bandwidth: Size | None = None
    timeout: Duration = 60.0
