"""A network namespace joined to the host by a veth pair, so a test can cut the link (veth down).

Needs root and iproute2. Names are random so parallel runs do not collide; ``remove()`` deletes both.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from dataclasses import dataclass


def netns_unavailable() -> str | None:
    """Why namespaces cannot be used here, or None."""
    import os
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2 ('ip') is not installed"
    probe = f"jagaprobe{secrets.token_hex(3)}"
    done = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if done.returncode != 0:
        return f"'ip netns add' failed: {done.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@dataclass
class NetNamespace:
    """``host_address`` is the host's end, ``address`` the namespace's end of a /30."""

    name: str
    host_if: str
    ns_if: str
    host_address: str
    address: str

    @classmethod
    def create(cls) -> "NetNamespace":
        tag = secrets.token_hex(3)
        net = f"10.{200 + secrets.randbelow(50)}.{secrets.randbelow(256)}"
        ns = cls(f"jaga-{tag}", f"vjh{tag}", f"vjn{tag}", f"{net}.1", f"{net}.2")
        _ip("netns", "add", ns.name)
        try:
            _ip("link", "add", ns.host_if, "type", "veth", "peer", "name", ns.ns_if)
            _ip("link", "set", ns.ns_if, "netns", ns.name)
            _ip("addr", "add", f"{ns.host_address}/30", "dev", ns.host_if)
            _ip("link", "set", ns.host_if, "up")
            ns.run("ip", "addr", "add", f"{ns.address}/30", "dev", ns.ns_if)
            ns.run("ip", "link", "set", ns.ns_if, "up")
            ns.run("ip", "link", "set", "lo", "up")
        except BaseException:
            ns.remove()
            raise
        return ns

    def prefix(self) -> list[str]:
        """argv prefix that runs a command inside the namespace."""
        return ["ip", "netns", "exec", self.name]

    def run(self, *argv: str) -> None:
        subprocess.run([*self.prefix(), *argv], check=True, capture_output=True, text=True)

    def cut(self) -> None:
        """Take the namespace's side of the link down: packets vanish, nothing is refused."""
        self.run("ip", "link", "set", self.ns_if, "down")

    def heal(self) -> None:
        self.run("ip", "link", "set", self.ns_if, "up")

    def remove(self) -> None:
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
