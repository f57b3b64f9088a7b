"""The config file: pydantic models for every key, loading, and path resolution.

Relative paths resolve against the folder of the config file, so ``make run`` works from any
working directory and a config copied with its ``var/`` keeps pointing at it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from common.configtypes import NAME, Duration, Name, Section, Size
from common.yamlfile import load_mapping
from journal.records import default_node
from monitor.settings import AlertsConfig, MonitorConfig
from replication.factory import BACKENDS, TargetConfig, resolve_paths
from replication.local.config import LocalTargetConfig

DEFAULT_IGNORE = ["*.part", "*.tmp", ".*"]


class ConfigError(Exception):
    """A config that cannot be used; the message names the key and what is wrong."""


class JournalConfig(Section):
    url: str = Field(default="sqlite:///var/journal.db", description="SQLAlchemy URL of the journal")


class WatchConfig(Section):
    path: Path = Field(description="the upload folder to watch, recursively")
    name: Name | None = Field(default=None, description="label in metrics, the journal and the replica's "
                              "folder for this watch (default: the folder's own name)")
    ignore: list[str] = Field(default_factory=lambda: list(DEFAULT_IGNORE),
                              description="glob patterns matched against each path component")

    @property
    def label(self) -> str:
        return self.name or self.path.name


class RetryConfig(Section):
    initial: Duration = Field(default=1.0, description="first retry delay")
    maximum: Duration = Field(default=300.0, description="retry delays double up to this")


class IngestConfig(Section):
    settle: Duration = Field(default=2.0, description="a file with no close seen is complete once this stable")
    reconcile_interval: Duration = Field(default=900.0, description="full rescan against the journal")
    watch_check: Duration = Field(default=30.0, description="check every folder's inotify watch against the "
                                  "tree this often (a walk of the folders, not of the files)")
    open_file_limit: Duration = Field(default=3600.0, description="a file still open for writing is not "
                                      "complete; after this long unchanged it is recorded anyway")


class ScrubConfig(Section):
    enabled: bool = True
    interval: Duration = Field(default=7 * 86400.0, description="re-read every replica this often")
    rate: Size | None = Field(default=20 * 1024 * 1024, description="bytes per second a scrub may read")


class MetricsConfig(Section):
    listen: str = Field(default="127.0.0.1:9108", description="host:port for /metrics, /healthz, /readyz, /")
    web_config: Path | None = Field(default=None, description="TLS and basic auth: a Prometheus exporter-toolkit "
                                    "web-config file (tls_server_config, basic_auth_users); HTTPS only then")

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError("use host:port, e.g. 127.0.0.1:9108")
        return value

    @property
    def address(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


class LoggingConfig(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["text", "json"] = "text"


class UiConfig(Section):
    language: Literal["auto", "en", "id"] = Field(
        default="auto", description="the status page's language; auto: the browser's Accept-Language (else en)")


class Config(Section):
    node: Name | None = Field(default=None, description="this server's name in the journal: one jaga process "
                              "per node writes it (default: the hostname)")
    journal: JournalConfig = Field(default_factory=JournalConfig)
    watch: list[WatchConfig] = Field(min_length=1)
    targets: list[TargetConfig] = Field(min_length=1)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    scrub: ScrubConfig = Field(default_factory=ScrubConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    monitor: MonitorConfig = Field(default_factory=MonitorConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    ui: UiConfig = Field(default_factory=UiConfig)

    source: Path | None = Field(default=None, exclude=True, description="the file this was read from")

    @model_validator(mode="after")
    def _consistent(self) -> "Config":
        _unique([t.name for t in self.targets], "targets", "target name")
        _unique([w.label for w in self.watch], "watch", "watch name")
        for index, watch in enumerate(self.watch):
            if not NAME.match(watch.label):
                raise ValueError(f"watch.{index}: the folder name {watch.label!r} cannot label metrics and "
                                 "replica folders; set `name:` (letters, digits, - _ .)")
        return self

    @property
    def node_name(self) -> str:
        """``node``, or the hostname made into a valid name."""
        return self.node or default_node()

    def target(self, name: str) -> TargetConfig:
        for target in self.targets:
            if target.name == name:
                return target
        raise ConfigError(f"no target named {name!r}; configured: {', '.join(t.name for t in self.targets)}")


def _unique(values: list[str], key: str, what: str) -> None:
    seen = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{key}: {what} {value!r} is used twice")
        seen.add(value)


def load_config(path: str | os.PathLike) -> Config:
    """Read, validate and resolve a config file, or raise ConfigError saying what is wrong."""
    path = Path(path)
    data = load_mapping(path, "config", ConfigError, "sections (journal, watch, targets, ...)")
    return parse_config(data, base=path.resolve().parent, source=path.resolve())


def parse_config(data: dict, base: Path, source: Path | None = None) -> Config:
    try:
        config = Config.model_validate(data, context={"base": base})   # base: for {file: ...} secrets
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source)) from None
    config.source = source
    _resolve_paths(config, base)
    _check_layout(config)
    return config


def _describe(exc: ValidationError, source: Path | None) -> str:
    lines = [f"{source or 'config'}: {exc.error_count()} problem(s)"]
    for error in exc.errors():
        loc = ".".join(str(part) for part in error["loc"] if not _is_union_tag(part))
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"  {loc or '(top)'}: {message}")
    return "\n".join(lines)


def _is_union_tag(part: object) -> bool:
    return isinstance(part, str) and any(part == backend.type for backend in BACKENDS)


def _resolve_paths(config: Config, base: Path) -> None:
    def resolve(p: Path) -> Path:
        return Path(os.path.normpath(base / p.expanduser()))

    config.journal.url = resolve_sqlite_url(config.journal.url, base)
    for watch in config.watch:
        watch.path = resolve(watch.path)
    for target in config.targets:
        resolve_paths(target, resolve)
    config.monitor.filesystems.extra_paths = [resolve(p) for p in config.monitor.filesystems.extra_paths]
    if config.metrics.web_config is not None:
        config.metrics.web_config = resolve(config.metrics.web_config)


def resolve_sqlite_url(url: str, base: Path) -> str:
    """``sqlite:///var/journal.db`` is relative to the config's folder; ``sqlite:////abs`` is absolute."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url == prefix or url.startswith(prefix + "/") or ":memory:" in url:
        return url
    rest = url[len(prefix):]
    path, _, query = rest.partition("?")
    resolved = os.path.normpath(base / path)
    return prefix + resolved + (f"?{query}" if query else "")


def _check_layout(config: Config) -> None:
    """A replica inside a watched folder would replicate itself forever; refuse it."""
    for target in config.targets:
        if not isinstance(target, LocalTargetConfig):
            continue
        for watch in config.watch:
            if _inside(target.path, watch.path) or _inside(watch.path, target.path):
                raise ConfigError(
                    f"targets.{target.name}.path {target.path} overlaps watch {watch.path}: "
                    "a replica must live outside the watched folders")


def _inside(child: Path, parent: Path) -> bool:
    try:
        child.resolve().relative_to(parent.resolve())
        return True
    except ValueError:
        return False
