"""Fixtures for the target tests: real servers (from tests.servers) and a ``case`` per target type."""

from __future__ import annotations

import time

import pytest

from replication.factory import BACKENDS
from replication.target import Marker
from tests.servers.fixtures import (fresh_moto, fresh_sshd, moto_s3, netns_sshd, s3_credentials,  # noqa: F401
                                    sshd_server)
from tests.targets.cases import LocalCase, S3Case, SftpCase


@pytest.fixture(params=[backend.type for backend in BACKENDS] + ["s3-shared"])
def case(request, tmp_path):
    """An empty target of each registered type (no marker yet), and a shared S3 target as one node of a fleet
    sees it; afterwards: nothing outside its root (a shared target's: its node's area, and the marker)."""
    if request.param == "local":
        built = LocalCase(tmp_path)
    elif request.param == "sftp":
        built = SftpCase(request.getfixturevalue("sshd_server"))
    elif request.param in ("s3", "s3-shared"):
        built = S3Case(request.getfixturevalue("moto_s3"), request.getfixturevalue("s3_credentials"),
                       node="srv-a" if request.param == "s3-shared" else None)
    else:
        raise LookupError(f"no contract case for target type {request.param!r}: add one to cases.py")
    yield built
    built.target.close()
    assert built.outside() == [], "written outside the target root"


@pytest.fixture
def ready(case):
    """The same, initialised (marker written), as the daemon would leave it before any put."""
    case.target.write_marker(Marker(case.target.name, "m-1", time.time()))
    return case
