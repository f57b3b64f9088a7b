"""The ``targets[]`` section of ``type: local``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from replication.targetconfig import TargetBase


class LocalTargetConfig(TargetBase):
    type: Literal["local"]
    path: Path = Field(description="root folder of the replica (a second disk's mount point)")
