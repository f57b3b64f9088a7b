"""Human units in the config: durations like ``2s``/``15m``/``4h`` and sizes like ``10MiB``."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4,
               "ki": 1024, "mi": 1024**2, "gi": 1024**3, "ti": 1024**4}


def parse_duration(value: object) -> float:
    """Seconds from ``30``, ``2s``, ``15m``, ``4h``, ``1d``, ``1w`` or ``500ms``."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 2s, 15m or 4h")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration; use a number with s, m, h, d or w (e.g. 15m)")
        seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def parse_size(value: object) -> int:
    """Bytes from ``1048576``, ``10MiB``, ``5MB``, ``512k``."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as 10MiB")
    if isinstance(value, int):
        size = value
    else:
        match = _SIZE.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a size; use e.g. 512KiB, 10MiB or 1GB")
        unit = (match.group(2) or "").lower().rstrip("b")
        size = int(float(match.group(1)) * _SIZE_UNITS[unit])
    if size < 0:
        raise ValueError("a size cannot be negative")
    return size


def format_duration(seconds: float) -> str:
    """The inverse of parse_duration, for messages: ``90`` → ``1m30s``."""
    seconds = int(round(seconds))
    parts = []
    for unit, length in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= length:
            parts.append(f"{seconds // length}{unit}")
            seconds %= length
    if seconds or not parts:
        parts.append(f"{seconds}s")
    return "".join(parts)
