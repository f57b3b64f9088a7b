"""Shared pydantic building blocks for every config section."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict

from jaga.units import parse_duration, parse_size


class Section(BaseModel):
    """A config section: unknown keys are errors, values are checked on assignment too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


Duration = Annotated[float, BeforeValidator(parse_duration)]
"""Seconds, written in the config as ``2s``, ``15m``, ``4h``, ``1d``."""

Size = Annotated[int, BeforeValidator(parse_size)]
"""Bytes, written in the config as ``512KiB``, ``10MiB``, ``1GB``."""
