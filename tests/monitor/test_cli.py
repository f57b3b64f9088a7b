"""`jaga disks` (jaga/commands/disks.py): a table or JSON, exit 0 only when every disk is ok."""

from __future__ import annotations

import io
import json

from rich.console import Console

from jaga.commands.disks import show_disks
from tests.monitor.helpers import make_config


def test_disks_json_and_exit_status(tmp_path, fake_smartctl, capsys):
    fake_smartctl.use("ata-seagate-st380011a-reallocated-pending")
    config = make_config(tmp_path, fake_smartctl, devices=[{"name": "/dev/sda", "type": "ata"}])
    assert show_disks(config, as_json=True) == 1
    [disk] = json.loads(capsys.readouterr().out)["disks"]
    assert {k: disk[k] for k in ("device", "model", "serial", "interface", "health", "temperature_c")} == {
        "device": "sda", "model": "ST380011A", "serial": "5JV9BNJ6", "interface": "ata", "health": "warning",
        "temperature_c": 36}
    assert "Current_Pending_Sector (197) = 661 (a healthy disk has 0)" in disk["reasons"]


def test_disks_table_all_ok(tmp_path, fake_smartctl):
    fake_smartctl.use("host-linux-2nvme-1megaraid")
    config = make_config(tmp_path, fake_smartctl)
    out = io.StringIO()
    assert show_disks(config, as_json=False, console=Console(file=out, width=200)) == 0
    text = out.getvalue()
    assert "KCM61VUL1T60" in text and "INTEL SSDSC2KB480G8" in text and text.count(" ok ") >= 3


def test_disks_without_smartctl_is_a_problem(tmp_path):
    config = make_config(tmp_path, None)
    out = io.StringIO()
    assert show_disks(config, as_json=False, console=Console(file=out, width=200)) == 1
    assert "SMART unavailable" in out.getvalue()
