"""Reading the config's YAML strictly: a key given twice is an error, and errors name file and line.

PyYAML keeps the last of two equal keys without a word, so ``metrics:`` written twice silently
opens the second listener; and its syntax errors span five lines of context. Here both become one
or two lines that say where.
"""

from __future__ import annotations

from pathlib import Path

import yaml


class YamlError(ValueError):
    """The file is not YAML jaga will use; the message says file, line and what."""


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
        except TypeError:   # an unhashable key: let the constructor say so
            break
        if first is not None:
            raise YamlError(f"{loader.name}:{line}: key {key!r} is given twice (first on line {first}); "
                            "remove one")
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def read_yaml(path: Path, text: str) -> object:
    """The document in ``text`` (read from ``path``), or YamlError in one or two lines."""
    loader = _StrictLoader(text)
    loader.name = str(path)
    try:
        return loader.get_single_data()
    except YamlError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        context = f" ({exc.context}, line {exc.context_mark.line + 1})" if exc.context and exc.context_mark else ""
        raise YamlError(f"{where}: not valid YAML: {exc.problem}{context}") from None
    except yaml.YAMLError as exc:
        raise YamlError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    finally:
        loader.dispose()
