"""The shipped rules pass promtool, and every metric they or the dashboard use is one jaga exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from prometheus_client import CollectorRegistry

from tests.monitor.helpers import REPO
from monitor.metrics import MonitorMetrics

RULES = REPO / "deploy" / "prometheus" / "jaga-rules.yml"
DASHBOARD = REPO / "deploy" / "grafana" / "jaga.json"
SUFFIXES = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"], "summary": ["_sum", "_count"]}


def exported(registry: CollectorRegistry) -> set[str]:
    names = set()
    for family in registry.collect():
        names |= {family.name + s for s in SUFFIXES.get(family.type, [""])}
    return names


LABELS = {"jaga_alertname", "jaga_severity"}   # labels JagaAlertsFiring carries, not metrics


def used_names(text: str) -> set[str]:
    return set(re.findall(r"\bjaga_[a-z0-9_]+", text)) - LABELS


def promtool() -> str:
    found = shutil.which("promtool")
    if not found:
        pytest.skip("promtool not installed (Debian package prometheus)")
    return found


def test_rules_are_valid_and_their_unit_tests_pass():
    tool = promtool()
    check = subprocess.run([tool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    tests = subprocess.run([tool, "test", "rules", RULES.with_name("jaga-rules.test.yml").name],
                           cwd=RULES.parent, capture_output=True, text=True, timeout=120)
    assert tests.returncode == 0, tests.stdout + tests.stderr


def test_every_metric_in_rules_and_dashboard_is_exported():
    from jaga.metrics import Metrics
    from replication.scrub import ScrubMetrics
    registry = CollectorRegistry()
    MonitorMetrics(registry)
    Metrics(registry)
    ScrubMetrics(registry)
    names = exported(registry)
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    exprs += " " + " ".join(v.get("query", "") for v in dashboard["templating"]["list"])
    missing = (used_names(RULES.read_text()) | used_names(exprs)) - names
    assert not missing, f"used but not exported: {sorted(missing)}"


def test_issue_metric_names_are_exported():
    registry = CollectorRegistry()
    MonitorMetrics(registry)
    assert {"jaga_disk_health", "jaga_disk_info", "jaga_disk_smart_attribute_raw", "jaga_disk_temperature_celsius",
            "jaga_disk_nvme_critical_warning", "jaga_disk_nvme_media_errors", "jaga_disk_nvme_percentage_used_ratio",
            "jaga_disk_nvme_available_spare_ratio", "jaga_disk_smartctl_exit_status", "jaga_disk_poll_success",
            "jaga_filesystem_free_bytes", "jaga_filesystem_readonly", "jaga_alerts_firing"} <= exported(registry)


def test_the_dashboards_instance_variable_comes_from_a_metric_every_jaga_exports():
    """A host without SMART disks exports no jaga_disk_info; it must still be listed."""
    from jaga.metrics import Metrics
    registry = CollectorRegistry()
    MonitorMetrics(registry)   # no poll yet: no disk series at all
    Metrics(registry)
    [variable] = [v for v in json.loads(DASHBOARD.read_text())["templating"]["list"] if v["name"] == "instance"]
    [metric] = re.findall(r"label_values\((jaga_[a-z_]+), instance\)", variable["query"])
    assert any(s.name == metric for family in registry.collect() for s in family.samples), metric


def test_a_bug_in_any_loop_is_an_increase_prometheus_can_see():
    """increase() does not count a series' first sample: a counter that appears only with its first
    error at 1 would never fire JagaInternalErrors. Every part a loop counts is exported at 0 from the
    start (the parts are read from the code, so a loop added later is held to it too)."""
    from jaga.metrics import Metrics
    registry = CollectorRegistry()
    Metrics(registry)
    sources = [f for folder in ("jaga", "ingest", "replication", "monitor", "journal")
               for f in (REPO / folder).rglob("*.py")]
    parts = {part for f in sources for part in re.findall(r'internal_errors\.labels\(part="(\w+)"\)', f.read_text())}
    assert {"ingest", "watch", "replication"} <= parts
    for part in parts:
        assert registry.get_sample_value("jaga_internal_errors_total", {"part": part}) == 0, part


def test_every_alert_about_a_host_is_muted_while_that_hosts_jaga_is_down():
    """The inhibition rule names the alerts it mutes: an alert added to the rules must be among them."""
    import yaml
    inhibit = yaml.safe_load((REPO / "deploy" / "alertmanager" / "jaga-inhibit.yml").read_text())["inhibit_rules"]
    [rule] = inhibit
    [matcher] = rule["target_matchers"]
    pattern = re.fullmatch(r'alertname=~"(.*)"', matcher).group(1)
    groups = yaml.safe_load(RULES.read_text())["groups"]
    alerts = {r["alert"] for g in groups for r in g["rules"] if "alert" in r}
    per_host = alerts - {"JagaDown", "NodeSilent"}   # the source itself; NodeSilent is about another node
    assert "JagaInternalErrors" in per_host
    assert {a for a in per_host if not re.fullmatch(pattern, a)} == set()
