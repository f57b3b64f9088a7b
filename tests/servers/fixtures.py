"""pytest fixtures over the server helpers. Import the ones you need into a conftest.py:

    from tests.servers.fixtures import sshd_server, fresh_sshd, netns_sshd, moto_s3, s3_credentials  # noqa: F401

Each skips with its reason where the machine cannot run it (no root, no sshd, no namespaces).
"""

from __future__ import annotations

import pytest

from tests.servers.moto_s3 import MotoS3
from tests.servers.netns import NetNamespace, netns_unavailable
from tests.servers.sshd import SshServer, sshd_unavailable


def _require_sshd() -> None:
    reason = sshd_unavailable()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def sshd_server(tmp_path_factory) -> SshServer:
    """One sshd on 127.0.0.1 for the whole session: use server.remote_dir() for a fresh root."""
    _require_sshd()
    server = SshServer.start(tmp_path_factory.mktemp("sshd"))
    yield server
    server.cleanup()


@pytest.fixture
def fresh_sshd(tmp_path) -> SshServer:
    """An sshd of this test's own, free to be killed and restarted."""
    _require_sshd()
    server = SshServer.start(tmp_path / "sshd")
    yield server
    server.cleanup()


@pytest.fixture
def netns_sshd(tmp_path) -> SshServer:
    """An sshd inside a fresh network namespace; ``server.netns.cut()`` / ``.heal()`` the link."""
    _require_sshd()
    reason = netns_unavailable()
    if reason:
        pytest.skip(reason)
    netns = NetNamespace.create()
    try:
        server = SshServer.start(tmp_path / "sshd", netns=netns)
        yield server
        server.cleanup()
    finally:
        netns.remove()


@pytest.fixture(scope="session")
def moto_s3() -> MotoS3:
    """moto's S3 server on 127.0.0.1 for the session; use a new bucket per test (target_config does)."""
    server = MotoS3.start()
    yield server
    server.stop()


@pytest.fixture
def fresh_moto() -> MotoS3:
    """A moto server of this test's own, free to be stopped and restarted."""
    server = MotoS3.start()
    yield server
    server.stop()


@pytest.fixture
def s3_credentials(tmp_path, monkeypatch, moto_s3):
    """A credentials file for moto, with every AWS_* variable cleared so only the file is used."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    return moto_s3.write_credentials(tmp_path / "aws-credentials")
