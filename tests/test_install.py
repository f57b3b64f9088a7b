"""The documented server install, end to end: deploy/install.sh into a temporary root, the shipped
server config edited as an operator would, check-config, the unit verified by systemd-analyze, and
the daemon started with the unit's own command line while /etc is read-only (ProtectSystem=strict)."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path

from tests.conftest import needs_binary, needs_root
from tests.harness import REPO, free_port, wait_for, write_file

UNIT = REPO / "deploy" / "systemd" / "jaga.service"


@needs_binary("systemd-analyze")
def test_the_shipped_unit_passes_systemd_analyze_verify(tmp_path):
    """Without warnings: systemd-analyze exits 0 even for a directive it ignores, so its output is checked."""
    unit = tmp_path / "jaga.service"
    unit.write_text(UNIT.read_text().replace("/opt/jaga/bin/jaga", str(Path(sys.executable).with_name("jaga"))))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result.stdout + result.stderr
    text = UNIT.read_text()
    for line in ("StateDirectory=jaga", "ReadWritePaths=-", "LimitNOFILE=", "RestartPreventExitStatus=2",
                 "ExecStart=/opt/jaga/bin/jaga -c /etc/jaga/config.yaml run"):
        assert line in text, line


@needs_root()
@needs_binary("systemd-analyze")
def test_the_documented_install_runs_from_etc_and_var_lib(tmp_path):
    root = tmp_path / "root"
    # the test venv's packages stand in for the dependencies pip would download (no network in tests)
    env = {**os.environ, "PYTHONPATH": sysconfig.get_paths()["purelib"],
           "PYTHON": os.path.realpath(sys.executable)}
    install = subprocess.run(["sh", str(REPO / "deploy" / "install.sh"), "--root", str(root), "--no-user",
                              "--pip-args", "--no-deps --no-build-isolation --no-index"],
                             capture_output=True, text=True, env=env, timeout=300)
    assert install.returncode == 0, install.stdout + install.stderr
    jaga = root / "opt" / "jaga" / "bin" / "jaga"
    config = root / "etc" / "jaga" / "config.yaml"
    state = root / "var" / "lib" / "jaga"
    assert jaga.is_file() and config.is_file() and state.is_dir()
    assert "sqlite:////var/lib/jaga/journal.db" in config.read_text(), "the shipped server config's journal"

    # the operator's part: the upload folder and replica disk exist; this root stands for /
    port = free_port()
    config.write_text(config.read_text().replace("/var/lib/jaga", f"{state}").replace("/srv/", f"{root}/srv/")
                      .replace("127.0.0.1:9108", f"127.0.0.1:{port}").replace("smartctl: /usr/sbin/smartctl",
                                                                            "enabled: false"))
    (root / "srv" / "uploads").mkdir(parents=True)
    (root / "srv" / "replica").mkdir(parents=True)
    checked = subprocess.run([str(jaga), "-c", str(config), "check-config"], capture_output=True, text=True,
                             env=env, timeout=60)
    assert checked.returncode == 0, checked.stderr

    unit = root / "etc" / "systemd" / "system" / "jaga.service"
    unit.write_text(unit.read_text().replace("/opt/jaga", f"{root}/opt/jaga").replace("/etc/jaga", f"{root}/etc/jaga"))
    verify = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0 and not (verify.stdout + verify.stderr).strip(), verify.stderr

    [exec_start] = [line.split("=", 1)[1] for line in unit.read_text().splitlines() if line.startswith("ExecStart=")]
    etc = root / "etc"
    read_only(etc)
    try:
        log = open(tmp_path / "jaga.log", "wb")
        daemon = subprocess.Popen(shlex.split(exec_start), cwd=state, env=env, stdout=log, stderr=log)
        try:
            wait_for(lambda: daemon.poll() is None and (root / "srv" / "replica" / "jaga" / ".jaga-target").exists(),
                     60, message=f"the installed daemon running ({(tmp_path / 'jaga.log').read_text()})")
            write_file(root / "srv" / "uploads" / "2026" / "proposal.pdf", b"%PDF-1.4 proposal")
            replica = root / "srv" / "replica" / "jaga" / "uploads" / "2026" / "proposal.pdf"
            wait_for(replica.exists, 30, message="the upload replicated by the installed daemon")
            assert (state / "journal.db").is_file()
        finally:
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(30) == 0
            log.close()
        # the old layout: the repo's config copied to /etc/jaga puts the journal under /etc/jaga/var
        old = etc / "jaga" / "repo-config.yaml"
        unmount(etc)
        old.write_text((REPO / "config.yaml").read_text().replace("var/uploads", str(root / "srv" / "uploads"))
                       .replace("var/replica", str(root / "srv" / "replica" / "old")))
        read_only(etc)
        refused = subprocess.run([str(jaga), "-c", str(old), "run"], capture_output=True, text=True, env=env,
                                 timeout=60)
        assert refused.returncode == 2
        assert refused.stderr.splitlines() == [
            f"jaga: config error: journal.url: the state folder {etc / 'jaga' / 'var'} does not exist and "
            f"{etc / 'jaga'} is not writable (create it, or under systemd set StateDirectory=jaga)"]
    finally:
        unmount(etc)


def read_only(folder: Path) -> None:
    """What ProtectSystem=strict does to /etc: a read-only bind mount over it."""
    subprocess.run(["mount", "--bind", str(folder), str(folder)], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], check=True)


def unmount(folder: Path) -> None:
    subprocess.run(["umount", str(folder)], capture_output=True)
