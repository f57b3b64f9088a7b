"""The command line: the common options work before or after every verb, and dates are read the way an
office in Indonesia writes them (day first), in local time, or refused with one line."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone

import pytest

from jaga.cli import build_parser
from jaga.commands import UsageError
from jaga.commands.dates import parse_moment
from tests.harness import REPO, jaga_command, wait_for, write_file

VERB_ARGS = {"run": [], "sync": [], "status": [], "check-config": [], "init-target": ["secondary"],
             "disks": [], "verify": [], "restore": ["--from", "secondary", "--to", "restored"], "report": [],
             "rebuild-journal": ["--from", "secondary"]}
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


@pytest.mark.parametrize("verb", VERB_ARGS)
def test_every_verbs_help_says_what_it_does_each_option_and_the_exit_statuses(verb, capsys):
    """What `jaga VERB --help` prints, walked for every verb."""
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args([verb, "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    description = text.split("\n\n")[1]
    assert len(description.split()) >= 8, f"{verb}: {description!r}"
    statuses = text.split("exit status:\n")[1]
    codes = [line.split()[0] for line in statuses.splitlines() if line.strip()]
    assert codes[-1] == "2" and "0" in codes and codes == sorted(codes), statuses
    for action in subcommands(build_parser())[verb]._actions:
        for option in action.option_strings:
            assert option in text
    if verb in ("report", "restore"):
        for form in ("today", "yesterday", "2026-12-01", "01/12/2026 (day first)", "2026-12-01T08:00",
                     "local time", "time zone", "$TZ", "+07:00"):
            assert form in " ".join(text.split()), (verb, form)


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


def dmy(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def report_files(deployment, *args: str) -> int:
    result = run_jaga(deployment, "report", "--json", *args)
    assert result.returncode == 0, f"{args}: {result.stdout}{result.stderr}"
    return json.loads(result.stdout)["total"]["files"]


def away_from_midnight(margin: float = 120.0) -> None:
    """"Today" must stay one day for the whole test: near local midnight, wait until it has passed."""
    def seconds_left() -> float:
        now = datetime.now()
        return (datetime.combine(now.date() + timedelta(days=1), datetime.min.time()) - now).total_seconds()
    wait_for(lambda: seconds_left() > margin, timeout=margin + 10, interval=1, message="local midnight to pass")


def test_report_reads_the_dates_people_type(deployment):
    away_from_midnight()
    write_file(deployment.uploads / "a.pdf", b"a")
    assert deployment.cli("sync").returncode == 0
    today = date.today()
    hour = timedelta(hours=1)
    expected = {
        ("--since", "today"): 1, ("--since", "yesterday"): 1, ("--until", "yesterday"): 0,
        ("--until", "today"): 1, ("--since", dmy(today)): 1, ("--since", dmy(today + timedelta(days=1))): 0,
        ("--until", dmy(today - timedelta(days=1))): 0, ("--since", today.isoformat()): 1,
        ("--since", (datetime.now() - hour).isoformat(timespec="seconds")): 1,
        ("--since", (datetime.now() + hour).isoformat(timespec="seconds")): 0,
        ("--since", (datetime.now(timezone.utc) + hour).isoformat(timespec="seconds")): 0,
    }
    assert {args: report_files(deployment, *args) for args in expected} == expected


@pytest.mark.parametrize("text", ["tomorrow", "last week", "2026-13-01", "31/02/2026", "12/31/2026",
                                  "1.12.2026", ""])
def test_report_refuses_what_is_not_a_date_in_one_line(deployment, text):
    for option in ("--since", "--until"):
        result = run_jaga(deployment, "report", option, text)
        assert result.returncode == 2, result.stdout + result.stderr
        [line] = result.stderr.splitlines()
        assert line.startswith(f"jaga: {option} {text!r}") and "01/12/2026" in line, line


def test_restore_at_reads_the_same_dates(deployment, tmp_path):
    away_from_midnight()
    write_file(deployment.uploads / "a.pdf", b"a")
    assert deployment.cli("sync").returncode == 0
    tomorrow = dmy(date.today() + timedelta(days=1))
    for at, files in (("yesterday", []), (tomorrow, ["a.pdf"])):
        dest = tmp_path / f"restored-{at.replace('/', '-')}"
        result = run_jaga(deployment, "restore", "--from", "secondary", "--to", str(dest), "--at", at)
        assert result.returncode == 0, result.stdout + result.stderr
        assert sorted(p.name for p in dest.iterdir()) == files
    refused = run_jaga(deployment, "restore", "--from", "secondary", "--to", str(tmp_path / "x"),
                       "--at", "soon")
    assert refused.returncode == 2 and len(refused.stderr.splitlines()) == 1, refused.stderr
    assert not (tmp_path / "x").exists(), "nothing is touched before the arguments are read"


@pytest.fixture
def jakarta(monkeypatch):
    """The office's time zone (UTC+7, no daylight saving) for this process."""
    monkeypatch.setenv("TZ", "Asia/Jakarta")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def utc(*fields: int) -> float:
    return datetime(*fields, tzinfo=timezone.utc).timestamp()


def test_dates_are_local_and_day_first(jakarta):
    today = date(2026, 12, 2)
    assert parse_moment("01/12/2026", "--since") == utc(2026, 11, 30, 17)
    assert parse_moment("1/12/2026", "--since") == utc(2026, 11, 30, 17)
    assert parse_moment("2026-12-01", "--since") == utc(2026, 11, 30, 17)
    assert parse_moment("01/12/2026", "--until", end_of_day=True) == utc(2026, 12, 1, 17)
    assert parse_moment("2026-12-01T08:00", "--since") == utc(2026, 12, 1, 1)
    assert parse_moment("2026-12-01T08:00", "--until", end_of_day=True) == utc(2026, 12, 1, 1)
    assert parse_moment("2026-12-01T08:00:00+00:00", "--since") == utc(2026, 12, 1, 8)
    assert parse_moment("2026-12-01T08:00:00Z", "--since") == utc(2026, 12, 1, 8)
    assert parse_moment("today", "--since", today=today) == utc(2026, 12, 1, 17)
    assert parse_moment("yesterday", "--since", today=today) == utc(2026, 11, 30, 17)
    assert parse_moment("yesterday", "--until", end_of_day=True, today=today) == utc(2026, 12, 1, 17)
    assert parse_moment("TODAY", "--since", today=today) == utc(2026, 12, 1, 17)
    assert parse_moment(None, "--since") is None


@pytest.mark.parametrize("text", ["12/31/2026", "31/02/2026", "2026/12/01", "01/12/26", "now", ""])
def test_anything_else_is_a_usage_error(text):
    with pytest.raises(UsageError, match="--since"):
        parse_moment(text, "--since")


def test_a_restore_into_an_unwatched_folder_starts_without_loading_the_journals_database_library(
        deployment, tmp_path):
    """At 3 a.m. the journal may be on the dead disk: restore reads the target alone, and does not pay
    for importing SQLAlchemy (a quarter of a second, a tenth of restoring a gigabyte)."""
    write_file(deployment.uploads / "a.pdf", b"a")
    assert deployment.cli("sync").returncode == 0
    dest = tmp_path / "restored"
    probe = ("import runpy, sys\n"
             f"sys.argv = ['jaga', '-c', {str(deployment.config_path)!r}, 'restore', '--from', 'secondary', '--to', "
             f"{str(dest)!r}]\n"
             "try:\n    runpy.run_module('jaga', run_name='__main__')\nexcept SystemExit as end:\n"
             "    code = end.code\n"
             "print('exit', code, 'sqlalchemy' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                            cwd=REPO)
    assert result.stdout.splitlines()[-1] == "exit 0 False", result.stdout + result.stderr
    assert (dest / "a.pdf").read_bytes() == b"a"
