"""What `jaga run` would die on, found before it starts: each problem one line.

`check-config` prints these (exit 2), and `run`, `sync` and a reload refuse a config that has any.
A config can be valid YAML with every key right and still be unusable on this machine: a watch
folder with a typo (the daemon would protect an empty folder and report green), a journal folder
the service may not write (ProtectSystem=strict), a target whose parent folder is missing, an SFTP
target whose pinned host keys are missing or empty.
"""

from __future__ import annotations

import os
from pathlib import Path

from jaga.config import Config, ConfigError


class Unusable(ConfigError):
    """The config is valid but cannot run on this machine; ``problems`` holds one line each."""

    def __init__(self, found: list[str]):
        super().__init__("\n".join(found))
        self.problems = found


def refuse_unusable(config: Config) -> None:
    """Raise Unusable (exit 2) unless the config can run here."""
    found = problems(config)
    if found:
        raise Unusable(found)


def problems(config: Config) -> list[str]:
    """Every reason this config cannot run here now; empty when it can."""
    found = _journal(config.journal.url)
    for index, watch in enumerate(config.watch):
        found += _watch(f"watch.{index} ({watch.label})", watch.path)
    for target in config.targets:
        found += _target(target)
    return found


def sqlite_path(url: str) -> Path | None:
    """The database file of a file-backed SQLite URL; None for any other journal."""
    if not url.startswith("sqlite:///") or ":memory:" in url:
        return None
    return Path(url.removeprefix("sqlite:///").split("?", 1)[0])


def _journal(url: str) -> list[str]:
    database = sqlite_path(url)
    if database is None:
        return []
    folder = database.parent
    existing = _nearest_existing(folder)
    if existing != folder and not os.access(existing, os.W_OK | os.X_OK):
        return [f"journal.url: the state folder {folder} does not exist and {existing} is not writable "
                "(create it, or under systemd set StateDirectory=jaga)"]
    if existing == folder and not os.access(folder, os.W_OK | os.X_OK):
        return [f"journal.url: the state folder {folder} is not writable by this user "
                "(the journal and its lock live there)"]
    if database.exists() and not os.access(database, os.W_OK):
        return [f"journal.url: the journal {database} is not writable by this user"]
    return []


def _watch(key: str, path: Path) -> list[str]:
    if path.is_symlink():
        return [f"{key}: the watch folder {path} is a symlink (to {os.readlink(path)}); jaga does not follow "
                "symlinks out of a watched tree: configure the real folder"]
    if not path.exists():
        return [f"{key}: the watch folder {path} does not exist (a typo? jaga does not create it)"]
    if not path.is_dir():
        return [f"{key}: {path} is not a folder"]
    if not os.access(path, os.R_OK | os.X_OK):
        return [f"{key}: the watch folder {path} is not readable by this user"]
    return []


def _target(target) -> list[str]:
    key = f"targets.{target.name}"
    if target.type == "local":
        parent = Path(target.path).parent
        if not parent.is_dir():
            return [f"{key}.path: the parent folder {parent} of the target root does not exist "
                    "(is the disk mounted?)"]
        return []
    if target.type == "sftp":
        return _file_with_content(f"{key}.known_hosts", Path(target.known_hosts), "pinned host keys") + \
            _file_with_content(f"{key}.key_file", Path(target.key_file), "private key")
    return []


def _file_with_content(key: str, path: Path, what: str) -> list[str]:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return [f"{key}: {path} does not exist (the {what})"]
    except OSError as exc:
        return [f"{key}: cannot read {path}: {exc.strerror}"]
    if size == 0:
        return [f"{key}: {path} is empty (the {what})"]
    if not os.access(path, os.R_OK):
        return [f"{key}: {path} is not readable by this user (the {what})"]
    return []


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path
