"""Every sentence a person reads on the Indonesian page is Indonesian, and the language follows the
browser's Accept-Language when the config says auto.

The run-time sentences (disk reasons, target down reasons, alert summaries and subjects, readiness
reasons) are f-strings in the source: each is read here with ast, its fields filled with a sample
value, and must be known to jaga.web.translate. A new message without a translation fails this test.
"""

from __future__ import annotations

import ast
import time
import urllib.request
from pathlib import Path

import pytest

from jaga.web.i18n import MONTHS, Words, choose_language
from jaga.web.translate import knows
from tests.harness import REPO
from tests.monitor.conftest import fake_smartctl, recordings  # noqa: F401 (fixtures)
from tests.test_web import Status

SAMPLE = "X1"
OPTIONAL = {"more", "span", "_where(newest)", "_where(cleared_by)", "', LBA ' + lbas if lbas else ''"}
"""Fields that are an optional tail of their sentence: the sample leaves them empty."""


def sentence(node: ast.AST) -> str | None:
    """The text of a str or f-string expression, each {field} replaced by SAMPLE."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "" if ast.unparse(v.value) in OPTIONAL else SAMPLE
                       for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = sentence(node.left), sentence(node.right)
        return None if left is None or right is None else left + right
    return None


def messages() -> list[tuple[str, str]]:
    """(where, sentence) for every message the page may show."""
    found = []

    def take(path: Path, node: ast.AST | None) -> None:
        text = sentence(node) if node is not None else None
        if text and text.strip():
            found.append((f"{path.relative_to(REPO)}:{node.lineno}", text))

    sources = [*(REPO / "replication").rglob("*.py"), *(REPO / "monitor").glob("*.py"), REPO / "jaga/web/health.py"]
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name == "TargetDown" and node.args:
                take(path, node.args[0])
            elif name == "add" and path.name == "verdict.py" and len(node.args) == 2:
                take(path, node.args[1])                            # findings.add(level, reason)
            elif name == "Condition" and len(node.args) == 5:
                take(path, node.args[3])                            # subject
                take(path, node.args[4])                            # summary
            elif name == "append" and path.name in ("service.py", "health.py") and node.args:
                take(path, node.args[0])                            # watch problems, readiness reasons
            elif name in ("SmartctlMissing", "SmartctlTimeout") and node.args:
                take(path, node.args[0])
    server = ast.parse((REPO / "jaga" / "web" / "server.py").read_text())
    for function in (n for n in ast.walk(server) if isinstance(n, ast.FunctionDef) and n.name == "exposure_warning"):
        for node in ast.walk(function):                         # the listener's warning on the page
            if isinstance(node, ast.Return) and node.value is not None:
                take(REPO / "jaga" / "web" / "server.py", node.value)
    for path in (REPO / "monitor" / "readers.py", REPO / "monitor" / "smart.py"):
        for node in ast.walk(ast.parse(path.read_text())):     # report.error = f"..." and error = f"..."
            if isinstance(node, ast.Assign) and any("error" in ast.unparse(t) for t in node.targets):
                take(path, node.value)
    return found


def test_the_message_sources_are_found():
    found = messages()
    assert len(found) > 50
    wheres = {where.split(":")[0] for where, _ in found}
    assert {"monitor/verdict.py", "monitor/conditions.py", "replication/readiness.py",
            "replication/sftp/connection.py", "jaga/web/health.py", "monitor/service.py", "jaga/web/server.py"} <= wheres


@pytest.mark.parametrize("where,text", messages())
def test_every_message_has_an_indonesian_form(where, text):
    assert knows(text), f"{where}: no Indonesian for {text!r} (add a pattern to jaga/web/translate.py)"


def test_the_reasons_of_real_drives_are_translated(fake_smartctl):
    """Every reason the verdicts give for the recorded drives (real SMART output)."""
    from tests.monitor.test_verdicts import TEXT_CASES, poll_one
    reasons = {reason for folder, (path, kind, _, _) in TEXT_CASES.items()
               for reason in poll_one(fake_smartctl, folder, path, kind).reasons}
    assert len(reasons) > 10
    unknown = sorted(r for r in reasons if not knows(r))
    assert not unknown, unknown


@pytest.mark.parametrize("header,configured,chosen", [
    ("id-ID,id;q=0.9,en-US;q=0.8,en;q=0.7", "auto", "id"),
    ("en-US,en;q=0.9,id;q=0.8", "auto", "en"),
    ("fr-FR,fr;q=0.9", "auto", "en"),
    ("en;q=0.5, id;q=0.8", "auto", "id"),
    ("id;q=0", "auto", "en"),
    (None, "auto", "en"),
    ("id-ID", "en", "en"),
    ("en-US", "id", "id"),
])
def test_the_language_follows_accept_language_unless_the_config_fixes_it(header, configured, chosen):
    assert choose_language(configured, header) == chosen


def test_dates_use_indonesian_month_names():
    august = time.mktime((2026, 8, 17, 10, 5, 0, 0, 0, -1))
    assert Words("id").day_time(august) == "17 Agu 10:05"
    assert Words("en").day_time(august) == "17 Aug 10:05"
    assert len(MONTHS["id"]) == 12


def fetch_page(address, accept_language: str | None) -> str:
    request = urllib.request.Request(f"http://{address[0]}:{address[1]}/",
                                     headers={"Accept-Language": accept_language} if accept_language else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()


def test_the_page_is_served_in_the_browsers_language():
    from jaga.web import WebServer
    source = Status(language="auto", targets={
        "secondary": {"up": True, "down_reason": None, "pending": 0, "oldest_pending_seconds": 0.0,
                      "consecutive_errors": 0},
        "offsite": {"up": False, "down_reason": "cannot connect to 10.0.0.9:22: Connection refused", "pending": 3,
                    "oldest_pending_seconds": 3725.0, "consecutive_errors": 4}},
        coverage=[{"label": "watch:uploads", "path": "/srv/uploads", "disk": "vda", "covered": False,
                   "reason": "virtual_disk", "params": {"kind": "virtio_blk"}, "detail": "vda is a virtual disk"}])
    server = WebServer(("127.0.0.1", 0), source)
    server.start()
    try:
        indonesian = fetch_page(server.address, "id-ID,id;q=0.9,en;q=0.5")
        english = fetch_page(server.address, "en-GB,en;q=0.9")
    finally:
        server.stop()
    assert "<html lang='id'>" in indonesian and "<html lang='en'>" in english
    assert "tidak dapat terhubung ke 10.0.0.9:22: koneksi ditolak" in indonesian
    assert "1 jam 2 menit 5 detik" in indonesian
    assert "vda adalah disk virtual (virtio_blk)" in indonesian
    for english_word in ("cannot connect", "Connection refused", "virtual disk", "is down", "1h2m5s"):
        assert english_word not in indonesian, english_word
    assert "cannot connect to 10.0.0.9:22: Connection refused" in english and "1h2m5s" in english
    assert "Needs attention" in english and "target offsite is down" in english, "the header follows the rows"
