import pytest

from tests.reliability.rig import Rig


@pytest.fixture
def rig(tmp_path):
    """Deployments, writers and mounts that are torn down even when the test fails."""
    rig = Rig(tmp_path)
    try:
        yield rig
    finally:
        rig.teardown()
