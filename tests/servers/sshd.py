"""A real OpenSSH server for tests: its own host key, client key and config, one unprivileged user.

    server = SshServer.start(workdir)          # on 127.0.0.1, a free port
    server = SshServer.start(workdir, netns)   # inside a NetNamespace, reachable at netns.address
    config = server.target_config("remote", path=server.remote_dir("replica"))
    server.kill(); server.restart(); server.stop()

The client's public key goes to an AuthorizedKeysFile of its own under the user's home (not
~/.ssh/authorized_keys), so parallel runs do not overwrite each other's keys; ``workdir`` may be a
private folder (pytest's tmp_path) that the user cannot enter.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from tests.servers.netns import NetNamespace
from tests.servers.polling import accepts, free_port, wait_until

SSHD = "/usr/sbin/sshd"
USER = "sftptest"


def sshd_unavailable() -> str | None:
    """Why a real sshd cannot run here (for pytest.skip), or None."""
    if os.geteuid() != 0:
        return "starting sshd with a test user needs root"
    if not os.access(SSHD, os.X_OK):
        return f"{SSHD} is missing (Debian package openssh-server)"
    if shutil.which("ssh-keygen") is None:
        return "ssh-keygen is missing (Debian package openssh-client)"
    return None


def ensure_user(name: str = USER) -> Path:
    """Create the login user once (idempotent); '*' as password so UsePAM=no accepts key logins."""
    try:
        return Path(pwd.getpwnam(name).pw_dir)
    except KeyError:
        subprocess.run(["useradd", "-m", "-s", "/bin/sh", name], check=False, capture_output=True)
        subprocess.run(["usermod", "-p", "*", name], check=True, capture_output=True)
        return Path(pwd.getpwnam(name).pw_dir)


def keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "jaga-test", "-f", str(path)],
                   check=True, capture_output=True)
    return path


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@dataclass
class SshServer:
    """One sshd process (and its session children), with everything a client needs to reach it."""

    workdir: Path
    host: str
    port: int
    user: str
    home: Path
    netns: NetNamespace | None = None
    process: subprocess.Popen | None = field(default=None, repr=False)
    remote_dirs: list[Path] = field(default_factory=list)
    tag: str = field(default_factory=lambda: secrets.token_hex(4))

    @property
    def key_file(self) -> Path:
        return self.workdir / "clientkey"

    @property
    def known_hosts(self) -> Path:
        return self.workdir / "known_hosts"

    @property
    def authorized_keys(self) -> Path:
        return self.home / ".jaga-test-keys" / f"{self.port}-{self.tag}.pub"

    @property
    def log(self) -> Path:
        return self.workdir / "sshd.log"

    @classmethod
    def start(cls, workdir: Path, netns: NetNamespace | None = None, user: str = USER) -> "SshServer":
        workdir.mkdir(parents=True, exist_ok=True)
        host = netns.address if netns else "127.0.0.1"
        port = 2222 if netns else free_port()
        server = cls(workdir=workdir, host=host, port=port, user=user, home=ensure_user(user), netns=netns)
        server._prepare()
        server.restart()
        return server

    def _prepare(self) -> None:
        keygen(self.workdir / "hostkey")
        keygen(self.key_file)
        self.authorized_keys.parent.mkdir(mode=0o755, exist_ok=True)
        shutil.copy(self.workdir / "clientkey.pub", self.authorized_keys)
        os.chmod(self.authorized_keys, 0o644)  # sshd reads it as the user
        self.write_known_hosts()
        (self.workdir / "sshd_config").write_text(self._config())
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        subprocess.run([SSHD, "-t", "-f", str(self.workdir / "sshd_config")], check=True, capture_output=True)

    def _config(self) -> str:
        return "\n".join([
            f"Port {self.port}", f"ListenAddress {self.host}", f"HostKey {self.workdir / 'hostkey'}",
            f"PidFile {self.workdir / 'sshd.pid'}", f"AuthorizedKeysFile {self.authorized_keys}",
            f"AllowUsers {self.user}", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes", "UsePAM no", "StrictModes no", "Subsystem sftp internal-sftp",
            "ClientAliveInterval 0", "MaxSessions 32", "MaxStartups 64", "LogLevel VERBOSE", ""])

    def write_known_hosts(self, hostkey_pub: Path | None = None) -> None:
        """Pin the server's key (or another one, to play "the host key changed")."""
        key = (hostkey_pub or self.workdir / "hostkey.pub").read_text().split()
        self.known_hosts.write_text(f"[{self.host}]:{self.port} {key[0]} {key[1]}\n")

    def restart(self) -> None:
        """(Re)start sshd on the same address, port and keys; returns once it accepts connections."""
        argv = [SSHD, "-D", "-f", str(self.workdir / "sshd_config"), "-E", str(self.log)]
        self.process = subprocess.Popen([*(self.netns.prefix() if self.netns else []), *argv])
        wait_until(lambda: self.process.poll() is not None or self._accepts(), timeout=10, what="sshd listening")
        if self.process.poll() is not None:
            raise RuntimeError(f"sshd exited {self.process.returncode}; see {self.log}")

    def _accepts(self) -> bool:
        if self.netns is None:
            return accepts(self.host, self.port)
        done = subprocess.run([*self.netns.prefix(), "ss", "-Hltn", f"sport = :{self.port}"],
                              capture_output=True, text=True)
        return bool(done.stdout.strip())

    def kill(self) -> None:
        """SIGKILL the listener and every session process it forked: the server is simply gone."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            family = [psutil.Process(self.process.pid), *psutil.Process(self.process.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            family = []
        for proc in family:
            try:
                proc.send_signal(signal.SIGKILL)
            except psutil.NoSuchProcess:
                pass
        self.process.wait(timeout=10)
        wait_until(lambda: not any(_alive(proc) for proc in family), timeout=10, what="sshd processes gone")

    stop = kill

    @property
    def uid(self) -> int:
        return pwd.getpwnam(self.user).pw_uid

    @property
    def gid(self) -> int:
        return pwd.getpwnam(self.user).pw_gid

    def remote_dir(self, name: str) -> str:
        """A fresh folder path in the user's home for one target root (not created; removed on stop)."""
        path = self.home / "jaga-tests" / f"{name}-{secrets.token_hex(4)}"
        path.parent.mkdir(exist_ok=True)
        os.chown(path.parent, self.uid, self.gid)
        self.remote_dirs.append(path)
        return str(path)

    def cleanup(self) -> None:
        self.kill()
        self.authorized_keys.unlink(missing_ok=True)
        for path in self.remote_dirs:
            shutil.rmtree(path, ignore_errors=True)

    def target_config(self, name: str, path: str, **overrides):
        """An SftpTargetConfig pointing at this server."""
        from replication.sftp.config import SftpTargetConfig
        fields = dict(type="sftp", name=name, host=self.host, port=self.port, user=self.user,
                      key_file=self.key_file, known_hosts=self.known_hosts, path=path, timeout=5.0)
        fields.update(overrides)
        return SftpTargetConfig(**fields)
