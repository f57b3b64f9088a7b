"""The docs say what the code does: the config reference is generated, every documented command is
found and parsed by the real parser, the safe ones are run, and every config snippet loads."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from jaga.cli import build_parser
from jaga.config import ConfigError, load_config
from jaga.configdoc import readme_block, render
from tests.documented import Command, commands, config_snippets
from tests.harness import RECORDINGS, REPO, jaga_command, write_file

DOCS = {path.name: path for path in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]}

# At least this many (jaga commands, other commands, config snippets) must be found in each document,
# so a change in how the docs write commands fails here instead of leaving them unchecked.
MINIMUM = {
    "README.md": (21, 9, 0),       # the commands table (synopses expanded), make, python -m ...
    "install.md": (1, 10, 0),      # the install steps, check-config, the unit
    "metrics.md": (0, 0, 0),       # the metric reference: test_every_metric_the_daemon_exports_is_documented
    "monitoring.md": (0, 1, 2),
    "performance.md": (4, 14, 0),
    "reliability.md": (1, 2, 0),
    "fleet.md": (0, 0, 1),         # its restore names the fleet's shared target: parsed, not run on one node
    "runbook.md": (15, 7, 1),
    "targets.md": (3, 9, 6),
}
# Documented, but never run here: they change the machine they run on or need a real server.
NOT_RUN = {"systemctl", "ssh-keyscan", "ssh-keygen", "useradd", "install", "pip"}


def jaga_lines(doc: str) -> list[Command]:
    return [c for c in commands(DOCS[doc]) if c.program == "jaga"]


def other_lines(doc: str) -> list[Command]:
    return [c for c in commands(DOCS[doc]) if c.program != "jaga"]


def test_every_document_has_its_minimum_and_is_listed():
    assert set(DOCS) == set(MINIMUM), "add the new document to MINIMUM with what it must be found to hold"
    found = {doc: (len(jaga_lines(doc)), len(other_lines(doc)), len(config_snippets(DOCS[doc]))) for doc in DOCS}
    short = {doc: (got, MINIMUM[doc]) for doc, got in found.items()
             if any(g < m for g, m in zip(got, MINIMUM[doc]))}
    assert short == {}, f"(found, at least) per document: {short}"


def test_the_readme_config_reference_matches_the_models():
    readme = (REPO / "README.md").read_text()
    assert readme_block(readme) == render(), "run `python -m jaga.configdoc` and paste it into README.md"


def test_the_readme_gives_exactly_the_two_setup_commands():
    readme = (REPO / "README.md").read_text()
    setup = readme.split("## Set-up", 1)[1].split("```")[1]
    assert [line.split("#")[0].strip() for line in setup.strip().splitlines()] == ["make run", "make test"]


def is_mention(command: Command) -> bool:
    """`jaga` or `jaga restore` named in a sentence: the verb must exist, but it is not a command line."""
    return len(command.argv) <= 2


def parsed(command: Command):
    """The real parser's namespace, or None where it refuses the line."""
    try:
        return build_parser().parse_args(list(command.argv[1:]))
    except SystemExit:
        return None


@pytest.mark.parametrize("doc", DOCS)
def test_every_documented_command_parses(doc):
    parser = build_parser()
    verbs = next(a for a in parser._actions if a.dest == "command").choices
    for command in jaga_lines(doc):
        if is_mention(command):
            assert command.argv[1:] == () or command.argv[1] in verbs, f"no such verb: {command}"
        else:
            assert parsed(command) is not None, f"the parser refuses {command}"  # a renamed or removed flag


def deployment_argv(command: Command, deployment, fresh: Path) -> list[str]:
    substitutions = {"/etc/jaga/config.yaml": str(deployment.config_path), "@CONFIG": str(deployment.config_path),
                     "/srv/uploads-new": str(fresh), "@FRESH_DIR": str(fresh),
                     "@XLSX": str(fresh.with_suffix(".xlsx"))}
    argv = [substitutions.get(a, a) for a in command.argv[1:]]
    return argv if "-c" in argv else ["-c", str(deployment.config_path), *argv]


@pytest.mark.parametrize("doc", [doc for doc, minimum in MINIMUM.items() if minimum[0]])
def test_every_documented_command_runs_on_a_real_deployment(doc, deployment, tmp_path):
    """In document order, against a deployment standing in for /etc/jaga (stopped, as the runbook keeps
    it for a restore); SMART answers from a healthy recorded drive. `jaga run` is the daemon every
    daemon test starts; here it is only parsed."""
    deployment.doc["monitor"] = {"smart": {"enabled": False, "smartctl": str(REPO / "tests" / "fakes" / "smartctl"),
                                           "devices": [{"name": "/dev/nvme0", "type": "nvme"}]}}
    deployment.write_config()
    write_file(deployment.uploads / "hibah" / "a.pdf", b"proposal")
    os.utime(deployment.uploads / "hibah" / "a.pdf", (1_600_000_000, 1_600_000_000))
    assert deployment.cli("sync").returncode == 0
    env = {**os.environ, "JAGA_FAKE_SMARTCTL_DIR": str(RECORDINGS / "nvme-wdc-sn730-healthy")}
    ran = 0
    for number, command in enumerate(jaga_lines(doc)):
        args = parsed(command)
        if args is None and is_mention(command) or args.command == "run":
            continue  # `jaga restore` named in a sentence; the daemon
        fresh = tmp_path / f"restored-{number}"
        result = subprocess.run(jaga_command(*deployment_argv(command, deployment, fresh)), capture_output=True,
                                text=True, timeout=120, cwd=deployment.base, env=env)
        # `jaga disks` says 1 while a folder has no SMART coverage: on this virtual machine, always
        allowed = (0, 1) if args.command == "disks" else (0,)
        assert result.returncode in allowed, f"{command}: exit {result.returncode}\n{result.stdout}{result.stderr}"
        if args.command == "disks" and result.returncode == 1:
            assert "coverage" in result.stdout.lower(), f"{command}: exit 1 without saying why\n{result.stdout}"
        if args.command == "restore":
            assert (fresh / "hibah" / "a.pdf").read_bytes() == b"proposal", command
        ran += 1
    assert ran >= MINIMUM[doc][0] // 2, f"only {ran} of the commands in {doc} ran"


def check_other(command: Command) -> None:
    """make: the target exists (dry run); python -m: the module's own parser, or a harmless run;
    promtool: run it; the rest: the shell parses the line."""
    program, args = command.program, list(command.argv[1:])
    if program == "make":
        result = subprocess.run(["make", "-n", "-C", str(REPO), *args], capture_output=True, text=True)
    elif program.startswith("python"):
        assert args[:1] == ["-m"], f"only `python -m MODULE` is documented: {command}"
        result = run_module(args[1], args[2:], command)
    elif program == "promtool":
        result = subprocess.run(["promtool", *args], cwd=REPO / "deploy" / "prometheus", capture_output=True,
                                text=True, timeout=120)
    else:
        assert program in NOT_RUN, f"add {program} to NOT_RUN or say how to check it: {command}"
        result = subprocess.run(["bash", "-n", "-c", command.source], capture_output=True, text=True)
    assert result.returncode == 0, f"{command}: {result.stdout}{result.stderr}"


def run_module(module: str, args: list[str], command: Command) -> subprocess.CompletedProcess:
    if module == "bench":
        from bench.cli import parse as parse_bench
        try:
            parse_bench(args)
        except SystemExit:
            raise AssertionError(f"bench refuses {command}") from None
        return subprocess.CompletedProcess(args, 0, "", "")
    if module == "pytest":
        result = subprocess.run([sys.executable, "-m", "pytest", *args, "--collect-only", "-p", "no:cacheprovider"],
                                cwd=REPO, capture_output=True, text=True, timeout=120)
        assert re.search(r"\d+ tests? collected", result.stdout), f"{command} collects nothing: {result.stdout}"
        return result
    if module.startswith("bench."):  # a benchmark of its own: it must exist and import
        result = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=REPO, capture_output=True, text=True)
        return result
    if module == "venv":  # creates a virtualenv on the reader's machine: the shell parses the line
        return subprocess.run(["bash", "-n", "-c", command.source], capture_output=True, text=True)
    assert module == "jaga.configdoc", f"say how to check `python -m {module}`: {command}"
    result = subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, capture_output=True, text=True)
    assert "| key | default | meaning |" in result.stdout, command
    return result


@pytest.mark.parametrize("doc", [doc for doc, minimum in MINIMUM.items() if minimum[1]])
def test_every_other_documented_command_is_checked(doc):
    if any(c.program == "promtool" for c in other_lines(doc)) and shutil.which("promtool") is None:
        pytest.skip("promtool is not installed (.ci/run installs prometheus)")
    for command in other_lines(doc):
        check_other(command)


@pytest.mark.parametrize("doc", [doc for doc, minimum in MINIMUM.items() if minimum[2]])
def test_every_config_snippet_loads_with_the_real_parser(doc, tmp_path, monkeypatch):
    """Each snippet by the parser of what it is: a part of jaga's config goes into a minimal valid one
    (a list is a list of targets); a web config, a Prometheus config and an Alertmanager config are
    checked by jaga's web-config model, `promtool check config` and `amtool check-config`."""
    for snippet in config_snippets(DOCS[doc]):
        data = with_secrets_provided(snippet.data, tmp_path, monkeypatch)
        where = f"{doc}:{snippet.line}"
        keys = set(data) if isinstance(data, dict) else {"targets"}
        if keys <= WEB_CONFIG_KEYS:
            check_web_config(data, where)
        elif keys & {"scrape_configs", "rule_files"}:
            check_with(["promtool", "check", "config"], prometheus_ready(data, tmp_path), tmp_path, where)
        elif keys & {"inhibit_rules", "route", "receivers"}:
            check_with(["amtool", "check-config"], alertmanager_ready(data), tmp_path, where)
        else:
            check_jaga_config(data, tmp_path, where)


WEB_CONFIG_KEYS = {"tls_server_config", "http_server_config", "basic_auth_users"}


def check_jaga_config(data, tmp_path: Path, where: str) -> None:
    config = {"watch": [{"path": "uploads"}], "targets": [{"name": "secondary", "type": "local", "path": "r"}]}
    config.update({"targets": data} if isinstance(data, list) else data)
    (tmp_path / "uploads").mkdir(exist_ok=True)
    path = tmp_path / f"snippet-{where.replace(':', '-')}.yaml"
    path.write_text(yaml.safe_dump(config))
    try:
        load_config(path)
    except ConfigError as exc:
        raise AssertionError(f"{where}: {exc}") from None


def check_web_config(data: dict, where: str) -> None:
    from pydantic import ValidationError
    from jaga.web.webconfig import WebConfigFile
    try:
        WebConfigFile.model_validate(data)
    except ValidationError as exc:
        raise AssertionError(f"{where}: not a valid web config: {exc}") from None


def check_with(command: list[str], data: dict, tmp_path: Path, where: str) -> None:
    if shutil.which(command[0]) is None:
        pytest.skip(f"{command[0]} is not installed (.ci/run installs it)")
    path = tmp_path / f"snippet-{where.replace(':', '-')}.yml"
    path.write_text(yaml.safe_dump(data))
    result = subprocess.run([*command, str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"{where}: {' '.join(command)}: {result.stdout}{result.stderr}"


def prometheus_ready(data: dict, tmp_path: Path) -> dict:
    """The reader's files stand in: the shipped rules for rule_files, small files for credentials."""
    data = dict(data)
    if "rule_files" in data:
        data["rule_files"] = [str(REPO / "deploy" / "prometheus" / "jaga-rules.yml")]
    for job in data.get("scrape_configs", []):
        for section in (job.get("basic_auth") or {}, job.get("tls_config") or {}):
            for key in [k for k in section if k.endswith("_file")]:
                stand_in = tmp_path / f"{job['job_name']}-{key}"
                stand_in.write_text("stand-in\n")
                section[key] = str(stand_in)
    return data


def alertmanager_ready(data: dict) -> dict:
    """An inhibition snippet is a part of an Alertmanager config: give it a receiver and a route."""
    return {"route": {"receiver": "pager"}, "receivers": [{"name": "pager"}], **data}


def with_secrets_provided(data, tmp_path: Path, monkeypatch):
    """A documented secret (`{file: PATH}`, `{env: NAME}`) stands for one the reader's server holds:
    the file is made in tmp_path and the variable set, so the snippet's keys are what is checked."""
    if isinstance(data, list):
        return [with_secrets_provided(item, tmp_path, monkeypatch) for item in data]
    if not isinstance(data, dict):
        return data
    if set(data) == {"file"}:
        secret = tmp_path / f"secret-{abs(hash(data['file']))}"
        secret.write_text("documented-secret\n")
        return {"file": str(secret)}
    if set(data) == {"env"}:
        monkeypatch.setenv(data["env"], "documented-secret")
        return data
    return {key: with_secrets_provided(value, tmp_path, monkeypatch) for key, value in data.items()}


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
