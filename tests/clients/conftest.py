import pytest

from tests.clients.rig import ClientDeployment
from tests.reliability.rig import Mounts, root_reason
from tests.servers.fixtures import sshd_server  # noqa: F401 (a fixture)


@pytest.fixture
def deployment(tmp_path):
    """A daemon with two local targets on ``tmp_path/uploads`` (not started: a test may move the
    upload folder first); killed after the test."""
    d = ClientDeployment(tmp_path)
    yield d
    if d.process is not None and d.process.poll() is None:
        d.process.kill()
        d.process.wait()


@pytest.fixture
def mounts():
    """tmpfs mounts (another filesystem for temporary files), always undone."""
    reason = root_reason()
    if reason:
        pytest.skip(reason)
    mounts = Mounts()
    yield mounts
    mounts.undo_all()
