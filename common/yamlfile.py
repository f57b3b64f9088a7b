"""Reading a YAML file that must hold a mapping (config.yaml, the web config), strictly.

PyYAML keeps the last of two equal keys without a word, so ``metrics:`` written twice silently opens
the second listener: a key given twice is refused here with both line numbers. A syntax error says
where and what in one line, but never quotes the line: it may hold a password or a hash.
"""

from __future__ import annotations

from pathlib import Path

import yaml


class _DuplicateKey(ValueError):
    pass


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping key given twice, naming both lines."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    seen: dict[object, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        line = key_node.start_mark.line + 1
        try:
            first = seen.get(key)
        except TypeError:   # an unhashable key: the constructor below says so
            break
        if first is not None:
            raise _DuplicateKey(f"key {key!r} at line {line} is given twice (first at line {first}); remove one")
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load_mapping(path: Path, what: str, error: type[Exception], expected: str) -> dict:
    """The file's mapping, or ``error`` saying what is wrong (an empty file too)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeError) as exc:
        raise error(f"cannot read {what} {path}: {getattr(exc, 'strerror', None) or exc}") from None
    loader = _StrictLoader(text)
    try:
        data = loader.get_single_data()
    except _DuplicateKey as exc:
        raise error(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML{_where(exc)}") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise error(f"{path}: expected a mapping of {expected}")
    return data


def _where(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None) or "syntax error"
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    started = f" ({context} from line {context_mark.line + 1})" if context and context_mark else ""
    return f"{where}: {problem}{started}"
