"""A reconcile scan that runs out of descriptors (EMFILE, e.g. a process at systemd's 1,024 limit) waits
and lists the folder again; it never skips it, or its files would stay unknown until the next rescan."""

from __future__ import annotations

import logging
import os
import resource
import threading

from ingest.rules import IgnoreRules
from ingest.scanner import walk
from tests.harness import wait_for, write_file


def test_a_folder_listed_while_out_of_descriptors_is_listed_again_when_they_are_back(tmp_path, caplog):
    for rel in ("3.pdf", "a/1.pdf", "b/c/2.pdf"):
        write_file(tmp_path / "uploads" / rel, b"x")
    root = os.fsencode(tmp_path / "uploads")
    found: list[bytes] = []
    caplog.set_level(logging.WARNING, logger="jaga.scan")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    probe = os.open(os.devnull, os.O_RDONLY)
    os.close(probe)
    scan = threading.Thread(target=lambda: found.extend(rel for rel, _ in walk(root, b"", IgnoreRules(()))))
    resource.setrlimit(resource.RLIMIT_NOFILE, (probe, hard))   # the lowest free descriptor is now over the limit
    try:
        scan.start()
        wait_for(lambda: "Too many open files" in caplog.text, message="the scan meeting EMFILE")
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    scan.join(30)
    assert sorted(found) == [b"3.pdf", b"a/1.pdf", b"b/c/2.pdf"]
