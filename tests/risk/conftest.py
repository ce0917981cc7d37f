import pytest

from services.kit import auth
from tests.conftest import TEST_SECRET


@pytest.fixture
def replication_metadata():
    """The replication service's own token: the only caller that may reserve."""
    return (("authorization", f"Bearer {auth.service_token(TEST_SECRET, 'replication')}"),)
