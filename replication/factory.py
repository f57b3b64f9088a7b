"""The registry of replica backends: the only place that lists them (restic's location registry).

One line per backend: its config class (whose ``type`` literal names it), the Target class it builds
(named, and imported on first build, so reading a config loads no SSH or S3 library), and which of its
keys are local paths that resolve against the config file's folder. The ``targets[]`` union, path
resolution, the generated config reference and build_target all come from BACKENDS.
"""

from __future__ import annotations

import importlib
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Union

from pydantic import Field

from replication.local.config import LocalTargetConfig
from replication.s3.config import S3TargetConfig
from replication.sftp.config import SftpTargetConfig
from replication.target import Target
from replication.targetconfig import TargetBase


@dataclass(frozen=True)
class Backend:
    config: type[TargetBase]
    target: str
    """``module:Class`` of its Target; the class's from_config builds it from a config section."""
    paths: tuple[str, ...] = ()
    """Keys holding paths on this machine, resolved against the config file's folder."""

    @property
    def type(self) -> str:
        (name,) = typing.get_args(self.config.model_fields["type"].annotation)
        return name

    def build(self, config: TargetBase, node: str | None = None) -> Target:
        module, _, name = self.target.partition(":")
        built = getattr(importlib.import_module(module), name)
        return built.from_config(config, node) if config.shared else built.from_config(config)


BACKENDS = (
    Backend(LocalTargetConfig, "replication.local.target:LocalTarget", paths=("path",)),
    Backend(SftpTargetConfig, "replication.sftp.target:SftpTarget", paths=("key_file", "known_hosts")),
    Backend(S3TargetConfig, "replication.s3.target:S3Target", paths=("credentials_file",)),
)

TargetConfig = Annotated[Union[tuple(backend.config for backend in BACKENDS)], Field(discriminator="type")]
"""One ``targets[]`` entry: the backend its ``type`` key names."""


def backend(type_name: str) -> Backend:
    for candidate in BACKENDS:
        if candidate.type == type_name:
            return candidate
    raise ValueError(f"unknown target type {type_name!r}")


def build_target(config: TargetBase, node: str | None = None) -> Target:
    """The Target of a ``targets[]`` section; ``node`` (this server's, or the one a restore reads) picks a
    shared target's area and is required for one."""
    if config.shared and node is None:
        raise ValueError(f"target {config.name} is shared: build it for a node")
    return backend(config.type).build(config, node)


def resolve_paths(config: TargetBase, resolve: Callable[[Path], Path]) -> None:
    """Rewrite the section's local paths with ``resolve`` (keys left unset stay unset)."""
    for key in backend(config.type).paths:
        value = getattr(config, key)
        if value is not None:
            setattr(config, key, resolve(value))
