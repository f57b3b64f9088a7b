"""The status page, as on-call staff see it: rendered by a real headless Chromium."""

import os
import shutil
import subprocess
import time

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
    deployment.doc["alerts"] = {"evaluate_every": "1h"}   # no TargetDown during this test: the header alone
    deployment.write_config()
    deployment.start()
    for i in range(3):
        write_file(deployment.uploads / "hibah" / f"{i}.pdf", b"%d" % i)
    wait_for(lambda: deployment.verified_count("offsite") == 3, message="replicated to both")
    (deployment.base / "offsite" / ".jaga-target").unlink()  # the offsite disk falls off
    write_file(deployment.uploads / "hibah" / "late.pdf", b"late")
    wait_for(lambda: deployment.metric("jaga_target_up", target="offsite") == 0, message="offsite down")
    wait_for(lambda: deployment.metric("jaga_replication_pending_files", node=deployment.node,
                                                         target="offsite") == 1,
             message="backlog on offsite")

    dom = chromium(tmp_path, f"http://127.0.0.1:{deployment.port}/", "--dump-dom")
    assert "data-target=\"secondary\" data-up=\"true\"" in dom
    assert "data-target=\"offsite\" data-up=\"false\"" in dom
    offsite_row = dom.split('data-target="offsite"')[1].split("</tr>")[0]
    assert ".jaga-target" in offsite_row and "missing" in offsite_row  # the reason, for on-call staff
    assert "<td data-pending=\"\">1</td>" in offsite_row
    assert 'id="intake-today">4<' in dom
    # one target up is enough to accept an upload, but the header follows the rows at once: no
    # "All uploads are protected" while a target is shown down, even before TargetDown has fired
    assert "No alerts firing" in dom, "targets are evaluated hourly here: no alert can have fired"
    header = dom.split("</header>")[0]
    assert 'data-state="attention"' in header and "Needs attention" in header
    assert "Accepting uploads" in header and "target offsite is down" in header
    assert "All uploads are protected" not in dom

    shot = tmp_path / "status.png"
    chromium(tmp_path, f"http://127.0.0.1:{deployment.port}/", f"--screenshot={shot}", "--window-size=420,900")
    assert shot.stat().st_size > 5000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_page_speaks_indonesian_to_an_indonesian_browser_and_turns_red(deployment, tmp_path):
    """ui.language is auto (the default): the browser's Accept-Language picks Indonesian, and every
    sentence a person reads is Indonesian: the down reason, the alert's title and summary, its date."""
    from jaga.web.i18n import MONTHS
    deployment.doc["alerts"] = {"evaluate_every": "500ms"}
    deployment.write_config()
    deployment.start()
    write_file(deployment.uploads / "a.pdf", b"a")
    wait_for(lambda: deployment.is_verified(b"a.pdf"), message="verified")
    (deployment.replica / ".jaga-target").unlink()
    wait_for(lambda: deployment.http("/readyz")[0] == 503, message="not ready without a target")
    wait_for(lambda: deployment.metric("jaga_alerts_firing", alertname="TargetDown", severity="critical"),
             message="TargetDown firing")

    url = f"http://127.0.0.1:{deployment.port}/"
    dom = chromium(tmp_path, url, "--accept-lang=id-ID,id", "--dump-dom")
    assert '<html lang="id">' in dom and 'data-state="attention"' in dom
    assert "Perlu perhatian" in dom and "Belum siap menerima unggahan" in dom
    assert "Target replika" in dom and "mati" in dom
    assert "penanda .jaga-target tidak ada di akar target: apakah disknya terpasang?" in dom
    assert "Target replika mati" in dom and "target replika secondary mati; 0 berkas menunggu" in dom
    assert f"sejak {time.localtime().tm_mday:02d} {MONTHS['id'][time.localtime().tm_mon - 1]} " in dom
    assert "kritis" in dom
    for english in ("missing at the target root", "is down", "files wait", "since ", ">critical<", "Pending"):
        assert english not in dom, dom[max(0, dom.find(english) - 400):dom.find(english) + 100]
    shot = tmp_path / "status-id.png"
    chromium(tmp_path, url, "--accept-lang=id-ID,id", f"--screenshot={shot}", "--window-size=1200,900")
    assert shot.stat().st_size > 5000

    english = chromium(tmp_path, url, "--accept-lang=en-US,en", "--dump-dom")
    assert '<html lang="en">' in english and "Needs attention" in english
