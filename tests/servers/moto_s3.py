"""moto's standalone S3 server on loopback, stoppable and restartable on the same port.

moto keeps its data in this process, so buckets and objects survive a stop/restart (like a real
server's disks); what disappears while stopped is the listening socket.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from moto.server import ThreadedMotoServer

from tests.servers.polling import accepts, free_port, wait_until

ACCESS_KEY = "jaga-test-access"
SECRET_KEY = "jaga-test-secret-never-logged"


@dataclass
class MotoS3:
    port: int
    host: str = "127.0.0.1"
    server: ThreadedMotoServer | None = field(default=None, repr=False)

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @classmethod
    def start(cls) -> "MotoS3":
        moto = cls(port=free_port())
        moto.restart()
        return moto

    def restart(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
        self.server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self.server.start()
        wait_until(lambda: accepts(self.host, self.port), timeout=10, what="moto listening")

    def stop(self) -> None:
        """Stop serving and close the listening socket, so clients get 'connection refused'."""
        if self.server is None:
            return
        self.server.stop()
        if self.server._server is not None:  # ThreadedMotoServer.stop() leaves the socket open
            self.server._server.server_close()
        self.server = None

    def write_credentials(self, path: Path) -> Path:
        """An AWS shared credentials file with the test keys (used through credentials_file)."""
        path.write_text(f"[default]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n")
        path.chmod(0o600)
        return path

    def target_config(self, name: str, credentials_file: Path, bucket: str | None = None, **overrides):
        """An S3TargetConfig for a fresh bucket name on this server (the bucket is made by write_marker)."""
        from replication.s3.config import S3TargetConfig
        fields = dict(type="s3", name=name, bucket=bucket or f"jaga-{secrets.token_hex(4)}",
                      prefix="replica/", endpoint_url=self.endpoint_url, region="us-east-1",
                      credentials_file=credentials_file, timeout=5.0)
        fields.update(overrides)
        return S3TargetConfig(**fields)
