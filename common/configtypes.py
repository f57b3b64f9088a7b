"""Shared pydantic building blocks for every config section."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, SecretStr, ValidationInfo

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


def _secret(value: object, info: ValidationInfo) -> SecretStr:
    """A secret written inline, read from a file (``{file: PATH}``, relative to the config's folder, one
    trailing newline dropped) or from the environment (``{env: NAME}``). Messages never hold the value."""
    if isinstance(value, SecretStr):
        return value
    if isinstance(value, str):
        if not value:
            raise ValueError("empty")
        return SecretStr(value)
    if not isinstance(value, dict) or len(value) != 1 or not {"file", "env"} & set(value):
        raise ValueError("a string, {file: PATH} or {env: VARIABLE}")
    if "env" in value:
        name = str(value["env"])
        if not os.environ.get(name):
            raise ValueError(f"the environment variable {name} is not set")
        return SecretStr(os.environ[name])
    path = Path(str(value["file"])).expanduser()
    base = (info.context or {}).get("base")
    if base is not None and not path.is_absolute():
        path = Path(base) / path
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeError) as exc:
        raise ValueError(f"cannot read the secret file {path}: {getattr(exc, 'strerror', None) or 'not text'}"
                         ) from None
    text = text[:-1] if text.endswith("\n") else text
    if not text:
        raise ValueError(f"the secret file {path} is empty")
    return SecretStr(text)


Secret = Annotated[SecretStr, BeforeValidator(_secret)]
"""A password or key: inline, ``{file: PATH}`` or ``{env: VARIABLE}``; shown as ``**********``, so a
config printed or logged by accident gives nothing away, and config.yaml can stay world-readable."""
