import os
import shutil

import pytest

from tests.harness import Deployment
from tests.skip_policy import pytest_make_collect_report, pytest_runtest_makereport  # noqa: F401 (hooks)

pytest_plugins = ["tests.daemon_log"]


@pytest.fixture
def deployment(tmp_path):
    """A running daemon on fresh folders; stopped (and checked to stop) after the test."""
    deployment = Deployment(tmp_path)
    yield deployment
    if deployment.process is not None and deployment.process.poll() is None:
        deployment.stop()


def needs_root():
    return pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mount, chattr, users)")


def needs_binary(name: str):
    return pytest.mark.skipif(shutil.which(name) is None, reason=f"{name} is not installed "
                                                                 "(.ci/run installs it)")


@pytest.fixture(scope="session")
def postgres():
    from tests.postgres import PostgresCluster, unavailable_reason
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    cluster = PostgresCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def journal_url(request, tmp_path):
    """The journal's tests run on both databases it supports."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/journal.db"
    cluster = request.getfixturevalue("postgres")
    return cluster.create_database("j" + os.urandom(6).hex())
