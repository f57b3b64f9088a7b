"""Debian's rsync into the watched folder: its default (a dot-temp file renamed into place) and
``--inplace`` (the final name written directly, its times set after the close)."""

import pytest

from tests.clients.rig import assert_uploads_safe, payload, run_client, sha256, write_local
from tests.clients.servers import missing

SIZES = (0, 1, 4096, 70_000, 3 << 20)


@pytest.mark.parametrize("inplace", [False, True], ids=["dot-temp-rename", "inplace"])
def test_rsync_uploads_are_one_verified_version_each(deployment, tmp_path, inplace):
    if missing("rsync"):
        pytest.skip(missing("rsync"))
    deployment.start()
    source = tmp_path / "source"
    finished = {}
    for index, size in enumerate(SIZES):
        data = payload(size, index)
        name = f"case-{index}/scan-{index}.pdf" if index % 2 else f"scan-{index}.pdf"
        write_local(source, name, data)
        finished[f"batch/{name}".encode()] = sha256(data)
    run_client("rsync", "-a", *(["--inplace"] if inplace else []), f"{source}/", f"{deployment.uploads}/batch/")
    assert_uploads_safe(deployment, finished)
