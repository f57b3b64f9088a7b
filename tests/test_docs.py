"""The docs say what the code does: the config reference is generated, and every command runs."""

import os
import re
import shlex
from pathlib import Path

import pytest

from jaga.cli import build_parser
from jaga.configdoc import readme_block, render
from tests.harness import REPO, write_file

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def jaga_commands(path: Path) -> list[list[str]]:
    """Every `jaga ...` line inside a fenced code block."""
    commands, fenced = [], False
    for line in path.read_text().splitlines():
        if line.strip().startswith("```"):
            fenced = not fenced
            continue
        text = line.split("#", 1)[0].strip()
        for segment in re.split(r"&&|\|\||;|\|", text) if fenced else []:
            if re.match(r"^(\S*/)?jaga\s", segment.strip()):
                commands.append(shlex.split(segment)[1:])
    return commands


def test_the_readme_config_reference_matches_the_models():
    readme = (REPO / "README.md").read_text()
    assert readme_block(readme) == render(), "run `python -m jaga.configdoc` and paste it into README.md"


def test_the_readme_gives_exactly_the_two_setup_commands():
    readme = (REPO / "README.md").read_text()
    setup = readme.split("## Set-up", 1)[1].split("```")[1]
    assert [line.split("#")[0].strip() for line in setup.strip().splitlines()] == ["make run", "make test"]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_documented_command_parses(doc):
    parser = build_parser()
    for argv in jaga_commands(doc):
        parser.parse_args(argv)  # a renamed or removed flag fails here


def test_every_metric_the_daemon_exports_is_documented():
    from prometheus_client import CollectorRegistry
    from jaga.metrics import Metrics
    import monitor.metrics as monitor_metrics
    documented = set(re.findall(r"`(jaga_[a-z_]+)`", (REPO / "docs" / "metrics.md").read_text()))
    registry = CollectorRegistry()
    Metrics(registry)
    names = {f.name + ("_total" if f.type == "counter" else "") for f in registry.collect()}
    names |= set(re.findall(r'"(jaga_[a-z_]+)"', Path(monitor_metrics.__file__).read_text()))
    names = {n for n in names if not n.endswith("_created")} - {"jaga_alert_notifications"}
    assert names - documented == set()


def test_the_runbook_commands_work_on_a_real_deployment(deployment, tmp_path):
    """Runs the runbook's commands in order, against a deployment standing in for /etc/jaga."""
    write_file(deployment.uploads / "hibah" / "a.pdf", b"proposal")
    os.utime(deployment.uploads / "hibah" / "a.pdf", (1_600_000_000, 1_600_000_000))
    assert deployment.cli("sync").returncode == 0
    substitutions = {"/etc/jaga/config.yaml": str(deployment.config_path),
                     "/srv/uploads-new": str(tmp_path / "uploads-new")}
    expected_exit = {"disks": (0, 1)}  # no SMART disks here: `disks` reports them unknown
    for argv in jaga_commands(REPO / "docs" / "runbook.md"):
        argv = [substitutions.get(a, a) for a in argv]
        if argv[2] == "init-target":
            (deployment.replica / ".jaga-target").unlink()  # the new, empty disk
        result = deployment.cli(*argv[2:])
        allowed = expected_exit.get(argv[2], (0,))
        assert result.returncode in allowed, f"{argv}: {result.stdout}{result.stderr}"
    assert (tmp_path / "uploads-new" / "hibah" / "a.pdf").read_bytes() == b"proposal"
