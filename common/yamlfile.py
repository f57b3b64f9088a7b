"""Reading a YAML file that must hold a mapping (config.yaml, the web config)."""

from __future__ import annotations

from pathlib import Path

import yaml


def load_mapping(path: Path, what: str, error: type[Exception], expected: str) -> dict:
    """The file's mapping, or ``error`` saying what is wrong (an empty file too). A syntax error
    says where and what, but never quotes the line: it may hold a password or a hash."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeError) as exc:
        raise error(f"cannot read {what} {path}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise error(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', None) or 'syntax error'}") from None
    if not isinstance(data, dict):
        raise error(f"{path}: expected a mapping of {expected}")
    return data
