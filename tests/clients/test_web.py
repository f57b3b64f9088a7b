"""Uploads through web servers: a PHP form handler (``move_uploaded_file()``; its ``upload_tmp_dir``
on another filesystem, so PHP copies the body to the final name and unlinks the temporary) posted
to with ``curl -F``, and nginx WebDAV ``PUT`` (``curl -T``) and ``MOVE``, its body buffer on the same
filesystem (a rename into place) or on another one (a copy to ``<name>.<10 digits>``, then a rename)."""

from __future__ import annotations

import pytest

from tests.clients.rig import assert_uploads_safe, payload, run_client, sha256, write_local
from tests.clients.servers import NginxServer, PhpServer, missing

MiB = 1 << 20
SIZES = (1, 20_000, 700_000, 3 * MiB)


def test_php_move_uploaded_file_from_another_filesystem(deployment, mounts, tmp_path):
    if missing("php", "curl"):
        pytest.skip(missing("php", "curl"))
    php_tmp = mounts.tmpfs(tmp_path / "php-tmp", "64m")
    php = PhpServer(tmp_path / "php", deployment.uploads, php_tmp).start()
    try:
        deployment.start()
        finished = {}
        for index, size in enumerate(SIZES):
            data = payload(size, index)
            local = write_local(tmp_path / "local", f"proposal {index}.pdf", data)
            folder = "grants" if index % 2 else "aid"
            result = run_client("curl", "-sS", "--fail", "-F", f"f=@{local}", f"{php.url}/upload.php?dir={folder}")
            assert "stored" in result.stdout
            finished[f"{folder}/proposal {index}.pdf".encode()] = sha256(data)
        assert_uploads_safe(deployment, finished)
    finally:
        php.stop()


@pytest.mark.parametrize("body_on", ["same-filesystem", "other-filesystem"])
def test_nginx_webdav_put_and_move(deployment, mounts, tmp_path, body_on):
    if missing("nginx", "curl"):
        pytest.skip(missing("nginx", "curl"))
    body_temp = tmp_path / "nginx-body"
    if body_on == "other-filesystem":
        mounts.tmpfs(body_temp, "64m")
    else:
        body_temp.mkdir()
    nginx = NginxServer(tmp_path / "nginx", deployment.uploads, body_temp).start()
    try:
        deployment.start()
        finished = {}
        for index, size in enumerate(SIZES):
            data = payload(size, index + 20)
            local = write_local(tmp_path / "local", f"doc-{index}.pdf", data)
            run_client("curl", "-sS", "--fail", "-T", local, f"{nginx.url}/dav/incoming/doc-{index}.pdf")
            if index % 2:  # filed away under its final name, as a WebDAV client does
                run_client("curl", "-sS", "--fail", "-X", "MOVE", "-H",
                           f"Destination: {nginx.url}/dav/filed/doc-{index}.pdf",
                           f"{nginx.url}/dav/incoming/doc-{index}.pdf")
                finished[f"dav/filed/doc-{index}.pdf".encode()] = sha256(data)
            else:
                finished[f"dav/incoming/doc-{index}.pdf".encode()] = sha256(data)
        moved = {b"dav/incoming/doc-1.pdf", b"dav/incoming/doc-3.pdf"}
        assert_uploads_safe(deployment, finished, temporary=r"\.[0-9]{10}$")
        assert not deployment.current_files().keys() & moved
    finally:
        nginx.stop()
