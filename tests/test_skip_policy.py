"""The CI's refusal of skips works for every way a test can skip, and only when asked for."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.harness import REPO
from tests.skip_policy import VARIABLE

SKIPPING = '''
import pytest

@pytest.fixture
def server():
    pytest.skip("no server in this fixture")

def test_calls_skip():
    pytest.skip("called pytest.skip")

@pytest.mark.skipif(True, reason="a skipif mark")
def test_marked():
    pass

def test_imports_what_is_missing():
    pytest.importorskip("no_such_module_for_jaga")

def test_uses_a_skipping_fixture(server):
    pass

def test_degraded():
    from tests.skip_policy import degraded
    degraded("a tool for one part is missing")

def test_passes():
    assert True
'''
MODULE_SKIP = '''
import pytest
pytest.skip("the whole module", allow_module_level=True)

def test_never_collected():
    pass
'''
# test (or module) → the reason its skip must be reported with
REASONS = {"test_calls_skip": "called pytest.skip", "test_marked": "a skipif mark",
           "test_imports_what_is_missing": "no_such_module_for_jaga",
           "test_uses_a_skipping_fixture": "no server in this fixture",
           "test_degraded": "a tool for one part is missing", "test_module_skip.py": "the whole module"}

def run_pytest(tmp_path, disallow: bool) -> subprocess.CompletedProcess:
    (tmp_path / "test_skipping.py").write_text(SKIPPING)
    (tmp_path / "test_module_skip.py").write_text(MODULE_SKIP)
    env = {k: v for k, v in os.environ.items() if k != VARIABLE}
    env["PYTHONPATH"], env["COLUMNS"] = str(REPO), "1000"  # short summary lines untruncated
    if disallow:
        env[VARIABLE] = "1"
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.skip_policy", "-p", "no:cacheprovider",
                           "-q", "-rA", "-W", "ignore::UserWarning", "--continue-on-collection-errors",
                           str(tmp_path)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


def test_with_the_variable_every_kind_of_skip_fails_with_its_reason(tmp_path):
    result = run_pytest(tmp_path, disallow=True)
    assert result.returncode == 1, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert "skipped" not in summary and " 1 passed" in summary, summary
    refused = [line for line in result.stdout.splitlines()
               if line.startswith(("FAILED ", "ERROR ")) and f"but {VARIABLE} is set" in line]
    for name, reason in REASONS.items():
        assert any(name in line and reason in line for line in refused), f"{name}: {reason!r} not reported:\n" \
                                                                          f"{result.stdout}"
    assert len(refused) == len(REASONS)


def test_without_it_they_are_plain_skips(tmp_path):
    result = run_pytest(tmp_path, disallow=False)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert "2 passed, 5 skipped" in summary and "failed" not in summary, summary
