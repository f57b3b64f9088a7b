"""Secrets (S3 keys, the SFTP key's passphrase, the SMTP password) come inline, from a file or from the
environment, so config.yaml can be world-readable; none of them ever shows in a log line, /api/status,
`jaga check-config`, a config error or the config's repr."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from jaga.config import ConfigError, load_config, parse_config
from monitor.notify import SmtpNotifier
from tests.harness import free_port, jaga_command, wait_for, write_file
from tests.monitor.test_notify import NOTE, dispatcher
from tests.servers.fixtures import moto_s3, s3_credentials, sshd_server  # noqa: F401
from tests.servers.moto_s3 import ACCESS_KEY, SECRET_KEY

PASSPHRASE = "correct horse battery staple 7"
SMTP_PASSWORD = "smtp-pass-never-shown-42"


def base_doc(tmp_path: Path) -> dict:
    (tmp_path / "uploads").mkdir(exist_ok=True)
    return {"watch": [{"path": "uploads"}], "targets": [{"name": "local", "type": "local", "path": "replica"}]}


def test_secrets_are_read_from_files_and_the_environment_and_never_printed(tmp_path, monkeypatch):
    (tmp_path / "s3-secret").write_text(SECRET_KEY + "\n")
    monkeypatch.setenv("JAGA_TEST_S3_ID", ACCESS_KEY)
    doc = base_doc(tmp_path)
    doc["targets"].append({"name": "cloud", "type": "s3", "bucket": "b", "access_key_id": {"env": "JAGA_TEST_S3_ID"},
                           "secret_access_key": {"file": "s3-secret"}})
    doc["alerts"] = {"notify": [{"smtp": "smtp://jaga@127.0.0.1:25", "to": ["a@b"], "password": SMTP_PASSWORD}]}
    config = parse_config(doc, base=tmp_path)
    cloud = config.target("cloud")
    assert cloud.access_key_id.get_secret_value() == ACCESS_KEY
    assert cloud.secret_access_key.get_secret_value() == SECRET_KEY          # the trailing newline dropped
    for shown in (repr(config), str(config), config.model_dump_json()):
        assert SECRET_KEY not in shown and ACCESS_KEY not in shown and SMTP_PASSWORD not in shown

    def refused(**keys) -> str:
        bad = base_doc(tmp_path)
        bad["targets"].append({"name": "cloud", "type": "s3", "bucket": "b", **keys})
        with pytest.raises(ConfigError) as caught:
            parse_config(bad, base=tmp_path)
        assert SECRET_KEY not in str(caught.value)
        return str(caught.value)

    assert "JAGA_TEST_UNSET" in refused(access_key_id={"env": "JAGA_TEST_UNSET"}, secret_access_key=SECRET_KEY)
    assert "missing-secret" in refused(access_key_id="a", secret_access_key={"file": "missing-secret"})
    assert "go together" in refused(secret_access_key=SECRET_KEY)
    assert "{file: PATH}" in refused(access_key_id="a", secret_access_key={"path": SECRET_KEY})
    assert "{file: PATH}" in refused(access_key_id="a", secret_access_key=12345)


def test_the_smtp_password_from_the_config_logs_in(tmp_path):
    controller = pytest.importorskip("aiosmtpd.controller")
    from aiosmtpd.handlers import Message
    from aiosmtpd.smtp import AuthResult

    logins = []

    class Inbox(Message):
        messages: list = []

        def handle_message(self, message):
            self.messages.append(message)

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == SMTP_PASSWORD.encode())

    inbox, port = Inbox(), free_port()
    server = controller.Controller(inbox, hostname="127.0.0.1", port=port, authenticator=authenticator,
                                   auth_require_tls=False)
    server.start()
    results = []
    sender = dispatcher([SmtpNotifier(f"smtp://jaga@127.0.0.1:{port}", "jaga@example.org", ["oncall@example.org"],
                                      5, password=SMTP_PASSWORD)], results)
    try:
        sender.submit(NOTE)
        wait_for(lambda: inbox.messages, message="the alert delivered after logging in")
        assert logins == [(b"jaga", SMTP_PASSWORD.encode())]
    finally:
        sender.close()
        server.stop()


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed")
def test_the_daemon_uses_keys_from_files_and_the_environment_and_logs_none(
        deployment, sshd_server, moto_s3, s3_credentials, tmp_path):
    encrypted = tmp_path / "encrypted-key"
    shutil.copy(sshd_server.key_file, encrypted)
    os.chmod(encrypted, 0o600)
    subprocess.run(["ssh-keygen", "-q", "-p", "-f", str(encrypted), "-P", "", "-N", PASSPHRASE], check=True)
    (deployment.base / "passphrase").write_text(PASSPHRASE)
    sftp = sshd_server.target_config("offsite", sshd_server.remote_dir("secrets")).model_dump(mode="json",
                                                                                                exclude_none=True)
    sftp.update(key_file=str(encrypted), key_passphrase={"file": "passphrase"})
    s3 = moto_s3.target_config("cloud", s3_credentials).model_dump(mode="json", exclude_none=True)
    del s3["credentials_file"]                    # no AWS chain at all: only the keys below can work
    (deployment.base / "s3-secret").write_text(SECRET_KEY)
    s3.update(access_key_id={"env": "JAGA_TEST_S3_ID"}, secret_access_key={"file": "s3-secret"})
    deployment.doc["targets"] = [sftp, s3]
    deployment.doc["alerts"] = {"notify": [{"smtp": "smtp://jaga@127.0.0.1:9", "to": ["a@b"],
                                            "password": SMTP_PASSWORD}]}
    deployment.write_config()
    deployment.start(env={"JAGA_TEST_S3_ID": ACCESS_KEY})
    write_file(deployment.uploads / "a.pdf", b"kept secret")
    wait_for(lambda: deployment.is_verified(b"a.pdf"), timeout=60, message="a.pdf verified on sftp and s3")
    checked = subprocess.run(jaga_command("-c", str(deployment.config_path), "check-config"), capture_output=True,
                             text=True, cwd=deployment.base, env={**os.environ, "JAGA_TEST_S3_ID": ACCESS_KEY})
    assert checked.returncode == 0, checked.stderr
    shown = deployment.http("/api/status")[1].decode() + deployment.http("/")[1].decode() + \
        checked.stdout + checked.stderr + deployment.log_text()
    for secret in (PASSPHRASE, SECRET_KEY, ACCESS_KEY, SMTP_PASSWORD):
        assert secret not in shown


def test_a_yaml_error_says_where_without_quoting_the_line(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(f"watch: [{{path: uploads}}]\ntargets:\n  - {{name: c, type: s3, bucket: b,\n"
                    f"     secret_access_key: '{SECRET_KEY}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "not valid YAML at line" in str(caught.value) and SECRET_KEY not in str(caught.value)
