"""The config: every key checked, errors name the key, relative paths follow the config file."""

from pathlib import Path

import pytest

from common.units import format_duration, parse_duration, parse_size
from jaga.config import ConfigError, load_config

MINIMAL = """
watch:
  - path: var/uploads
targets:
  - name: secondary
    type: local
    path: var/replica
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "conf" / "jaga.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize("text,seconds", [("2s", 2), ("15m", 900), ("4h", 14400), ("1d", 86400),
                                          ("500ms", 0.5), (30, 30), ("1.5h", 5400)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "-1s", "5 parsecs", True])
def test_bad_durations_are_refused(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_sizes_and_formatting():
    assert parse_size("10MiB") == 10 * 1024 * 1024
    assert parse_size("5MB") == 5_000_000
    assert parse_size(512) == 512
    assert format_duration(3725) == "1h2m5s"


def test_relative_paths_resolve_against_the_config_folder(tmp_path, monkeypatch):
    monkeypatch.chdir("/")
    config = load_config(write(tmp_path, MINIMAL))
    base = tmp_path / "conf"
    assert config.watch[0].path == base / "var" / "uploads"
    assert config.targets[0].path == base / "var" / "replica"
    assert config.journal.url == f"sqlite:///{base}/var/journal.db"
    assert config.watch[0].label == "uploads"
    assert config.watch[0].ignore == ["*.part", "*.tmp", ".*"]
    assert config.ingest.settle == 2.0 and config.ingest.reconcile_interval == 900.0


def test_absolute_sqlite_and_postgresql_urls_are_kept(tmp_path):
    config = load_config(write(tmp_path, MINIMAL + "journal:\n  url: sqlite:////srv/j.db\n"))
    assert config.journal.url == "sqlite:////srv/j.db"
    config = load_config(write(tmp_path, MINIMAL + "journal:\n  url: postgresql+psycopg://jaga@db/jaga\n"))
    assert config.journal.url == "postgresql+psycopg://jaga@db/jaga"


@pytest.mark.parametrize("extra,message", [
    ("metrics:\n  listen: 9108\n", "metrics.listen"),
    ("metrics:\n  lisen: 127.0.0.1:1\n", "metrics.lisen: unknown key"),
    ("ingest:\n  settle: later\n", "ingest.settle"),
    ("targets:\n  - name: x\n    type: ftp\n", "targets.0"),
    ("targets:\n  - name: 'bad name'\n    type: local\n    path: r\n", "targets.0.name"),
    ("targets:\n  - {name: a, type: local, path: r1}\n  - {name: a, type: local, path: r2}\n", "used twice"),
    ("targets:\n  - {name: a, type: sftp, host: h, user: u, path: /p}\n", "targets.0.key_file: Field required"),
])
def test_bad_values_name_the_key(tmp_path, extra, message):
    text = MINIMAL.split("targets:")[0] + extra if extra.startswith("targets") else MINIMAL + extra
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, text))
    assert message in str(error.value)


def test_a_replica_inside_a_watched_folder_is_refused(tmp_path):
    text = "watch:\n  - path: up\ntargets:\n  - {name: a, type: local, path: up/replica}\n"
    with pytest.raises(ConfigError, match="overlaps"):
        load_config(write(tmp_path, text))


def test_a_missing_or_empty_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(write(tmp_path, ""))


def test_the_repository_config_is_valid():
    config = load_config(Path(__file__).resolve().parents[1] / "config.yaml")
    assert config.targets[0].type == "local"
    assert config.metrics.address == ("127.0.0.1", 9108)


@pytest.mark.parametrize("section,kind", [
    ("{name: a, type: local, path: r, shared: true}", "local"),
    ("{name: a, type: sftp, host: h, user: u, key_file: k, known_hosts: kh, path: /p, shared: true}", "sftp"),
])
def test_only_a_shareable_target_may_be_shared(tmp_path, section, kind):
    """A fleet's nodes share an S3 bucket; a folder on one server cannot be every node's target."""
    text = MINIMAL.split("targets:")[0] + f"targets:\n  - {section}\n"
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, text))
    assert "targets.0.shared" in str(error.value) and f"a {kind} target cannot be shared" in str(error.value)


def test_targets_are_node_local_unless_shared(tmp_path):
    text = MINIMAL + "  - {name: cloud, type: s3, bucket: b}\n  - {name: fleet, type: s3, bucket: b, shared: true}\n"
    config = load_config(write(tmp_path, text))
    assert [t.shared for t in config.targets] == [False, False, True]
