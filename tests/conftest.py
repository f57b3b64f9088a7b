import os
import shutil

import pytest

from tests.harness import Deployment


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
