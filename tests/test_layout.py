"""The shape of the code: dependencies point one way, and the backend registry drives everything.

DESIGN.md: ``jaga`` → ``ingest``, ``replication``, ``monitor`` → ``journal``, with ``common`` below
them all. Adding a backend touches its folder and one line in replication/factory.py; everything that
lists backends (the config union, error paths, path resolution, the config reference) is derived.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from jaga import config as config_module
from jaga.config import Config
from jaga.configdoc import render
from replication.factory import BACKENDS, TargetConfig, backend, resolve_paths
from replication.target import Target

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("common", "journal", "ingest", "replication", "monitor", "jaga")
MAY_IMPORT = {
    "common": set(),
    "journal": {"common"},
    "ingest": {"common", "journal"},
    "replication": {"common", "journal"},
    "monitor": {"common", "journal"},
}


def imported_packages(path: Path) -> set[str]:
    """Top-level project packages a module imports anywhere, including inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & set(PACKAGES)


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_dependencies_point_one_way(package):
    modules = sorted((ROOT / package).rglob("*.py"))
    assert modules, f"no modules found under {package}/"
    allowed = MAY_IMPORT[package] | {package}
    wrong = {str(m.relative_to(ROOT)): sorted(imported_packages(m) - allowed) for m in modules}
    wrong = {module: found for module, found in wrong.items() if found}
    assert not wrong, f"{package}/ may import only {sorted(MAY_IMPORT[package])}"


def test_the_dependency_check_sees_lazy_imports(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from jaga.config import Config\n    import monitor.settings\n")
    assert imported_packages(module) == {"jaga", "monitor"}


def _union_members(annotation) -> set[type]:
    (union, *_metadata) = typing.get_args(annotation)
    return set(typing.get_args(union))


def test_every_backend_is_in_the_targets_union():
    configs = {b.config for b in BACKENDS}
    assert _union_members(TargetConfig) == configs
    (entry,) = typing.get_args(Config.model_fields["targets"].annotation)
    assert _union_members(entry) == configs


@pytest.mark.parametrize("registered", BACKENDS, ids=lambda b: b.type)
def test_a_backend_lives_in_its_own_folder(registered):
    assert registered.config.__module__ == f"replication.{registered.type}.config"
    module, _, name = registered.target.partition(":")
    assert module.startswith(f"replication.{registered.type}.")
    target_class = getattr(importlib.import_module(module), name)
    assert issubclass(target_class, Target)
    assert backend(registered.type) is registered


@pytest.mark.parametrize("registered", BACKENDS, ids=lambda b: b.type)
def test_a_backend_is_in_the_config_reference(registered):
    reference = render()
    heading = f"**`targets[] (type: {registered.type})`**"
    assert heading in reference
    section = reference.split(heading, 1)[1].split("\n\n**", 1)[0]
    for key in registered.config.model_fields:
        assert f"| `{key}` |" in section, f"{key} of {registered.type} missing from the config reference"


@pytest.mark.parametrize("registered", BACKENDS, ids=lambda b: b.type)
def test_a_backends_local_paths_are_all_registered_and_resolved(registered):
    """Every key typed Path is listed, so a relative key_file cannot silently follow the working directory."""
    path_keys = {key for key, field in registered.config.model_fields.items()
                 if Path in (field.annotation, *typing.get_args(field.annotation))}
    assert set(registered.paths) == path_keys
    section = registered.config.model_construct(type=registered.type,
                                                **{key: Path("rel") for key in registered.paths})
    resolve_paths(section, lambda p: Path("/base") / p)
    assert all(getattr(section, key) == Path("/base/rel") for key in registered.paths)


@pytest.mark.parametrize("registered", BACKENDS, ids=lambda b: b.type)
def test_a_backends_type_is_dropped_from_error_paths(registered):
    assert config_module._is_union_tag(registered.type)


def test_an_unknown_type_is_refused_by_the_registry():
    with pytest.raises(ValueError, match="unknown target type 'nfs'"):
        backend("nfs")


def test_reading_a_config_loads_no_backend_library():
    """Target classes are imported when built: `jaga check-config` does not pay for boto3 and paramiko."""
    code = ("import sys, jaga.cli, jaga.config, jaga.configdoc; "
            "print(sorted(m for m in ('boto3', 'botocore', 'paramiko') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=ROOT)
    assert result.stdout.strip() == "[]"
