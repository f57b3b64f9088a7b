"""The command line: the common options work before or after every verb."""

from __future__ import annotations

import argparse
import json
import subprocess

import pytest

from jaga.cli import build_parser
from tests.harness import jaga_command, write_file

VERB_ARGS = {"run": [], "sync": [], "status": [], "check-config": [], "init-target": ["secondary"],
             "disks": [], "verify": [], "restore": ["--from", "secondary", "--to", "restored"], "report": []}
COMMON = ["-c", "elsewhere.yaml", "--log-level", "debug", "--log-format", "json"]


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    [action] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return action.choices


def test_every_verb_is_registered():
    assert set(subcommands(build_parser())) == set(VERB_ARGS)


@pytest.mark.parametrize("verb", VERB_ARGS)
def test_the_common_options_parse_before_and_after_the_verb(verb):
    parser = build_parser()
    before = parser.parse_args([*COMMON, verb, *VERB_ARGS[verb]])
    after = parser.parse_args([verb, *VERB_ARGS[verb], *COMMON])
    for args in (before, after):
        assert (args.config, args.log_level, args.log_format) == ("elsewhere.yaml", "debug", "json")
    plain = parser.parse_args([verb, *VERB_ARGS[verb]])
    assert (plain.config, plain.log_level, plain.log_format) == ("config.yaml", None, None)
    last = parser.parse_args(["-c", "first.yaml", verb, *VERB_ARGS[verb], "-c", "second.yaml"])
    assert last.config == "second.yaml"


@pytest.mark.parametrize("verb", VERB_ARGS)
def test_every_verb_has_a_description_and_every_option_a_help_line(verb):
    sub = subcommands(build_parser())[verb]
    assert sub.description, f"{verb} has no description"
    for action in sub._actions:
        name = action.option_strings or action.dest
        assert action.help and action.help != argparse.SUPPRESS, f"{verb} {name} has no help"


@pytest.mark.parametrize("order", ["before", "after"])
@pytest.mark.parametrize("verb", VERB_ARGS)
def test_the_config_given_on_the_command_line_is_the_one_read(verb, order, tmp_path):
    """A broken ./config.yaml sits in the folder: only an ignored -c would read it."""
    (tmp_path / "config.yaml").write_text("journal: [not, a, mapping]\n")
    missing = tmp_path / "missing.yaml"
    common = ["-c", str(missing)]
    argv = [*common, verb, *VERB_ARGS[verb]] if order == "before" else [verb, *VERB_ARGS[verb], *common]
    result = subprocess.run(jaga_command(*argv), capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.splitlines() == [f"jaga: config error: cannot read config {missing}: "
                                          "No such file or directory"]


def run_jaga(deployment, *args: str) -> subprocess.CompletedProcess:
    """The config after the verb, as an operator types it."""
    return subprocess.run(jaga_command(*args, "-c", str(deployment.config_path)), capture_output=True,
                          text=True, timeout=120, cwd=deployment.base)


def test_status_with_the_config_after_the_verb(deployment):
    write_file(deployment.uploads / "a.pdf", b"a")
    assert run_jaga(deployment, "sync", "--log-format", "json", "--log-level", "debug").returncode == 0
    result = run_jaga(deployment, "status", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["targets"]["secondary"]["verified"] == 1


def test_the_log_options_after_the_verb_take_effect(deployment):
    write_file(deployment.uploads / "a.pdf", b"a")
    result = run_jaga(deployment, "sync", "--log-format", "json", "--log-level", "debug")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert lines and {"debug"} <= {line["level"] for line in lines}
