"""A config that is valid but cannot run here is refused before the daemon starts, one line per problem,
exit 2: by check-config and by run alike. Duplicate YAML keys and YAML syntax errors name the line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from jaga.cli import main
from tests.conftest import needs_root
from tests.harness import jaga_command


def write_config(tmp_path: Path, **changes) -> Path:
    """A config whose every path exists; ``changes`` replace top-level sections."""
    (tmp_path / "uploads").mkdir(exist_ok=True)
    doc = {"journal": {"url": "sqlite:///state/journal.db"},
           "watch": [{"path": "uploads"}],
           "targets": [{"name": "secondary", "type": "local", "path": "replica"}],
           "monitor": {"smart": {"enabled": False}}, **changes}
    path = tmp_path / "jaga.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def check(config: Path, capsys, verb: str = "check-config") -> tuple[int, list[str]]:
    code = main(["-c", str(config), verb])
    return code, capsys.readouterr().err.splitlines()


def test_a_usable_config_passes(tmp_path, capsys):
    code = main(["-c", str(write_config(tmp_path)), "check-config"])
    assert code == 0 and ": ok (1 watch(es), 1 target(s))" in capsys.readouterr().out


def test_a_missing_watch_folder_is_refused_by_check_config_and_run_and_not_created(tmp_path, capsys):
    config = write_config(tmp_path, watch=[{"path": "uplaods"}])
    for verb in ("check-config", "run", "sync"):
        code, lines = check(config, capsys, verb)
        assert code == 2
        assert lines == [f"jaga: config error: watch.0 (uplaods): the watch folder {tmp_path / 'uplaods'} "
                         "does not exist (a typo? jaga does not create it)"]
    assert not (tmp_path / "uplaods").exists()
    assert not (tmp_path / "state").exists(), "run refused before opening the journal"


def test_a_watch_folder_that_is_a_symlink_is_refused(tmp_path, capsys):
    (tmp_path / "real").mkdir()
    (tmp_path / "linked").symlink_to(tmp_path / "real")
    code, lines = check(write_config(tmp_path, watch=[{"path": "linked"}]), capsys)
    assert code == 2 and lines == [f"jaga: config error: watch.0 (linked): the watch folder {tmp_path / 'linked'} is "
                                   f"a symlink (to {tmp_path / 'real'}); jaga does not follow symlinks out of a "
                                   "watched tree: configure the real folder"]


def test_a_target_whose_parent_is_missing_is_refused(tmp_path, capsys):
    config = write_config(tmp_path, targets=[{"name": "usb", "type": "local", "path": "/mnt/no-such-disk/jaga"}])
    code, lines = check(config, capsys)
    assert code == 2 and lines == ["jaga: config error: targets.usb.path: the parent folder /mnt/no-such-disk of "
                                   "the target root does not exist (is the disk mounted?)"]


@pytest.mark.parametrize("content,problem", [(None, "does not exist"), (b"", "is empty")])
def test_sftp_known_hosts_missing_or_empty_is_refused(tmp_path, capsys, content, problem):
    (tmp_path / "id_ed25519").write_bytes(b"key")
    if content is not None:
        (tmp_path / "known_hosts").write_bytes(content)
    config = write_config(tmp_path, targets=[{"name": "offsite", "type": "sftp", "host": "127.0.0.1",
                                              "user": "u", "key_file": "id_ed25519",
                                              "known_hosts": "known_hosts", "path": "/r"}])
    code, lines = check(config, capsys)
    assert code == 2
    assert lines == [f"jaga: config error: targets.offsite.known_hosts: {tmp_path / 'known_hosts'} {problem} "
                     "(the pinned host keys)"]


@needs_root()
def test_a_state_folder_on_a_read_only_filesystem_is_refused(tmp_path, capsys):
    """What the old unit did: the journal under /etc/jaga, which ProtectSystem=strict makes read-only."""
    state = tmp_path / "state"
    state.mkdir()
    subprocess.run(["mount", "--bind", str(state), str(state)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(state)], check=True)
        code, lines = check(write_config(tmp_path), capsys)
        code_run, lines_run = check(write_config(tmp_path), capsys, "run")
    finally:
        subprocess.run(["umount", str(state)], check=True)
    assert code == code_run == 2
    assert lines == lines_run == [f"jaga: config error: journal.url: the state folder {state} is not writable "
                                  "by this user (the journal and its lock live there)"]


def test_problems_are_one_line_each_and_all_reported(tmp_path, capsys):
    config = write_config(tmp_path, watch=[{"path": "a"}, {"path": "b"}],
                          targets=[{"name": "usb", "type": "local", "path": "/mnt/none/x"}])
    code, lines = check(config, capsys)
    assert code == 2 and len(lines) == 3 and all(line.startswith("jaga: config error: ") for line in lines)


def test_duplicate_keys_are_refused_with_both_line_numbers(tmp_path, capsys):
    """The last `metrics:` would win silently and open the listener on every interface."""
    config = write_config(tmp_path)
    config.write_text(config.read_text() + "metrics:\n  listen: 127.0.0.1:9108\nmetrics:\n  listen: 0.0.0.0:9108\n")
    first = config.read_text().splitlines().index("metrics:") + 1
    code, lines = check(config, capsys)
    assert code == 2
    assert lines == [f"jaga: config error: {config}: key 'metrics' at line {first + 2} is given twice (first at "
                     f"line {first}); remove one"]


def test_a_duplicate_key_inside_a_list_item_is_refused_too(tmp_path, capsys):
    config = tmp_path / "jaga.yaml"
    config.write_text("watch:\n  - path: a\n    path: b\ntargets: []\n")
    code, lines = check(config, capsys)
    assert code == 2 and lines == [f"jaga: config error: {config}: key 'path' at line 3 is given twice (first at "
                                   "line 2); remove one"]


def test_a_yaml_syntax_error_names_the_file_and_line_in_one_line(tmp_path):
    config = tmp_path / "jaga.yaml"
    config.write_text("watch:\n  - path: a\ntargets:\n  - name: s\n   type: local\n")
    result = subprocess.run(jaga_command("-c", str(config), "check-config"), capture_output=True, text=True)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"jaga: config error: {config}: not valid YAML at line 5, column 4: "), line
