"""The keys every ``targets[]`` section has, whatever its type; each backend's config extends it."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator

from common.configtypes import Name, Section


class TargetBase(Section):
    name: Name = Field(description="unique name: letters, digits, - _ .")
    workers: int = Field(default=4, ge=1, le=64, description="copies in flight at once; local and S3 targets "
                         "copy up to 4 small files (<= 1 MiB) per worker beside them")
    shared: bool = Field(default=False, description="true: every node of a fleet writes to this target, each "
                         "under its own area (`nodes/<node>/`), one marker for all (s3 only); false: this "
                         "server's alone")

    SHAREABLE: ClassVar[bool] = False
    """Whether several nodes can reach the same storage (an object store can; a folder on one server cannot)."""

    @field_validator("shared")
    @classmethod
    def _shareable(cls, shared: bool) -> bool:
        if shared and not cls.SHAREABLE:
            kind = cls.model_fields["type"].annotation.__args__[0]
            raise ValueError(f"a {kind} target cannot be shared: it belongs to this server alone "
                             "(shared targets: s3); remove `shared: true`")
        return shared
