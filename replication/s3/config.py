"""The ``targets[]`` section of ``type: s3``."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from common.configtypes import Duration, Secret, Size
from replication.targetconfig import TargetBase


class S3TargetConfig(TargetBase):
    SHAREABLE: ClassVar[bool] = True

    type: Literal["s3"]
    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    profile: str | None = None
    credentials_file: Path | None = None
    access_key_id: Secret | None = Field(default=None, description="with secret_access_key: keys given here "
                                         "(inline, {file: PATH} or {env: VARIABLE}) instead of the AWS chain")
    secret_access_key: Secret | None = Field(default=None, description="the secret half of the pair, "
                                             "best as {file: PATH} or {env: VARIABLE}")
    multipart_threshold: Size = 64 * 1024 * 1024
    bandwidth: Size | None = None
    timeout: Duration = 60.0

    @model_validator(mode="after")
    def _key_pair(self) -> "S3TargetConfig":
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError("access_key_id and secret_access_key go together")
        return self
