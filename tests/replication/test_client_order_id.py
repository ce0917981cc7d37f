"""Client order ids: derived from (master fill, follower account), the same every time, within
every venue's rules (moved here from test_sizing.py when sizing left replication)."""

import re

from hypothesis import given
from hypothesis import strategies as st

from services.replication.client_order_id import client_order_id


@given(fill=st.text(min_size=1, max_size=200), account=st.text(min_size=1, max_size=64))
def test_client_order_ids_are_deterministic_and_fit_binance(fill, account):
    cid = client_order_id(fill, account)
    assert cid == client_order_id(fill, account)
    assert re.fullmatch(r"[.A-Z:/a-z0-9_-]{1,36}", cid) and len(cid) <= 32
    assert cid != client_order_id(fill, account + "x")
