"""Shared pydantic building blocks for every config section."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

from common.units import parse_duration, parse_size

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
"""A target or watch name: it labels metrics and names folders on replicas."""


class Section(BaseModel):
    """A config section: unknown keys are errors, values are checked on assignment too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


def _check_name(value: str) -> str:
    if not NAME.match(value):
        raise ValueError("use letters, digits, '-', '_' or '.' (at most 63)")
    return value


Duration = Annotated[float, BeforeValidator(parse_duration)]
"""Seconds, written in the config as ``2s``, ``15m``, ``4h``, ``1d``."""

Size = Annotated[int, BeforeValidator(parse_size)]
"""Bytes, written in the config as ``512KiB``, ``10MiB``, ``1GB``."""

Name = Annotated[str, AfterValidator(_check_name)]
"""A name matching NAME: letters, digits, ``-``, ``_`` or ``.``, at most 63."""
