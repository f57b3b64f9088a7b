"""The daemon with a second disk, an SFTP server and S3 at once: every target filled, verified, and able
to give the whole tree back on its own."""

import json
import os


from tests.harness import wait_for, write_file
from tests.servers.fixtures import fresh_sshd, moto_s3, s3_credentials, sshd_server  # noqa: F401
from tests.test_verify_restore import OLD, tree


def remote_targets(sshd_server, moto_s3, s3_credentials) -> list[dict]:
    sftp = sshd_server.target_config("offsite-sftp", sshd_server.remote_dir("daemon"))
    s3 = moto_s3.target_config("offsite-s3", s3_credentials)
    return [{"name": "secondary", "type": "local", "path": "replica"},
            sftp.model_dump(mode="json", exclude_none=True), s3.model_dump(mode="json", exclude_none=True)]


def test_three_targets_are_filled_and_each_restores_the_tree_without_the_journal(
        deployment, tmp_path, sshd_server, moto_s3, s3_credentials):
    deployment.doc["targets"] = remote_targets(sshd_server, moto_s3, s3_credentials)
    deployment.write_config()
    deployment.start()
    contents = {}
    for i in range(12):
        rel = f"{'hibah' if i % 2 else 'bansos'}/proposal-{i}.pdf"
        contents[rel.encode()] = os.urandom(2000 + 500 * i)
        write_file(deployment.uploads / rel, contents[rel.encode()])
        os.utime(deployment.uploads / rel, (OLD + i, OLD + i))
    for name in ("secondary", "offsite-sftp", "offsite-s3"):
        wait_for(lambda: deployment.verified_count(name) == 12, timeout=60, message=f"12 verified on {name}")
    assert deployment.cli("verify").returncode == 0
    deployment.stop()
    os.unlink(deployment.base / "journal.db")

    for name in ("secondary", "offsite-sftp", "offsite-s3"):
        restored = tmp_path / f"restored-{name}"
        result = deployment.cli("restore", "--from", name, "--to", str(restored))
        assert result.returncode == 0, result.stdout + result.stderr
        assert tree(restored) == contents, name
        assert os.stat(restored / "bansos" / "proposal-0.pdf").st_mtime == OLD


def test_a_dead_sftp_server_delays_only_its_own_target(deployment, fresh_sshd, tmp_path):
    sftp = fresh_sshd.target_config("offsite-sftp", fresh_sshd.remote_dir("outage"))
    deployment.doc["targets"].append(sftp.model_dump(mode="json", exclude_none=True))
    deployment.write_config()
    deployment.start()
    write_file(deployment.uploads / "first.pdf", b"both targets")
    wait_for(lambda: deployment.verified_count("offsite-sftp") == 1, timeout=30, message="first file on sftp")
    fresh_sshd.kill()
    for i in range(5):
        write_file(deployment.uploads / f"during-{i}.pdf", b"while the server is down %d" % i)
    wait_for(lambda: deployment.verified_count("secondary") == 6, timeout=30, message="the local disk keeps up")
    wait_for(lambda: deployment.metric("jaga_target_up", target="offsite-sftp") == 0, timeout=30,
             message="sftp marked down")
    status = json.loads(deployment.cli("status", "--json").stdout)["targets"]["offsite-sftp"]
    assert status["verified"] == 1 and status["pending"] + status["failed"] == 5
    fresh_sshd.restart()
    wait_for(lambda: deployment.verified_count("offsite-sftp") == 6, timeout=60, message="backlog drained")
