"""The status page, as on-call staff see it: rendered by a real headless Chromium."""

import os
import shutil
import subprocess

import pytest

from tests.harness import wait_for, write_file

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")


def chromium(tmp_path, url: str, *args: str) -> str:
    profile = tmp_path / f"chromium-profile-{os.urandom(4).hex()}"
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", *args, url], capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_the_page_shows_targets_intake_and_readiness_in_a_real_browser(deployment, tmp_path):
    deployment.doc["targets"].append({"name": "offsite", "type": "local", "path": "offsite"})
    deployment.write_config()
    deployment.start()
    for i in range(3):
        write_file(deployment.uploads / "hibah" / f"{i}.pdf", b"%d" % i)
    wait_for(lambda: deployment.verified_count("offsite") == 3, message="replicated to both")
    (deployment.base / "offsite" / ".jaga-target").unlink()  # the offsite disk falls off
    write_file(deployment.uploads / "hibah" / "late.pdf", b"late")
    wait_for(lambda: deployment.metric("jaga_target_up", target="offsite") == 0, message="offsite down")
    wait_for(lambda: deployment.metric("jaga_replication_pending_files", target="offsite") == 1,
             message="backlog on offsite")

    dom = chromium(tmp_path, f"http://127.0.0.1:{deployment.port}/", "--dump-dom")
    assert "data-target=\"secondary\" data-up=\"true\"" in dom
    assert "data-target=\"offsite\" data-up=\"false\"" in dom
    offsite_row = dom.split('data-target="offsite"')[1].split("</tr>")[0]
    assert ".jaga-target" in offsite_row and "missing" in offsite_row  # the reason, for on-call staff
    assert "<td data-pending=\"\">1</td>" in offsite_row
    assert 'id="intake-today">4<' in dom
    assert "All uploads are protected" in dom  # one target up is enough to protect a new upload

    shot = tmp_path / "status.png"
    chromium(tmp_path, f"http://127.0.0.1:{deployment.port}/", f"--screenshot={shot}", "--window-size=420,900")
    assert shot.stat().st_size > 5000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_page_speaks_indonesian_and_turns_red_when_uploads_are_not_safe(deployment, tmp_path):
    deployment.doc["ui"] = {"language": "id"}
    deployment.write_config()
    deployment.start()
    write_file(deployment.uploads / "a.pdf", b"a")
    wait_for(lambda: deployment.is_verified(b"a.pdf"), message="verified")
    (deployment.replica / ".jaga-target").unlink()
    wait_for(lambda: deployment.http("/readyz")[0] == 503, message="not ready without a target")

    dom = chromium(tmp_path, f"http://127.0.0.1:{deployment.port}/", "--dump-dom")
    assert 'data-state="attention"' in dom
    assert "Perlu perhatian" in dom and "Belum siap menerima unggahan" in dom
    assert "Target replika" in dom and "mati" in dom
    shot = tmp_path / "status-id.png"
    chromium(tmp_path, f"http://127.0.0.1:{deployment.port}/", f"--screenshot={shot}", "--window-size=1200,900")
    assert shot.stat().st_size > 5000
