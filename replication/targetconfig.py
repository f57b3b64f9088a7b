"""The keys every ``targets[]`` section has, whatever its type; each backend's config extends it."""

from __future__ import annotations

from pydantic import Field

from common.configtypes import Name, Section


class TargetBase(Section):
    name: Name = Field(description="unique name: letters, digits, - _ .")
    workers: int = Field(default=4, ge=1, le=64, description="copies in flight at once; local and S3 targets "
                         "copy up to 4 small files (<= 1 MiB) per worker beside them")
