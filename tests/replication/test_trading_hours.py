"""CME equity-index futures sessions in UTC, across the US daylight-saving changes."""

from datetime import UTC, datetime

import pytest

from services.replication import trading_hours


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(("at", "open_"), [
    # Winter (CST, UTC-6): Sunday's open is 23:00 UTC, the daily halt 22:00-23:00 UTC.
    (utc(2026, 11, 29, 22, 59), False),  # Sunday 16:59 Central
    (utc(2026, 11, 29, 23, 0), True),  # Sunday 17:00 Central: the week opens
    (utc(2026, 12, 1, 21, 59), True),  # Tuesday 15:59 Central
    (utc(2026, 12, 1, 22, 0), False),  # Tuesday 16:00: the daily halt
    (utc(2026, 12, 1, 22, 59), False),
    (utc(2026, 12, 1, 23, 0), True),  # Tuesday 17:00: trading again
    (utc(2026, 12, 4, 21, 59), True),  # Friday 15:59
    (utc(2026, 12, 4, 22, 0), False),  # Friday 16:00: closed for the weekend
    (utc(2026, 12, 4, 23, 30), False),  # no reopen on Friday evening
    (utc(2026, 12, 5, 12, 0), False),  # Saturday
    # Summer (CDT, UTC-5): everything an hour earlier in UTC.
    (utc(2026, 7, 12, 21, 59), False),  # Sunday 16:59 Central
    (utc(2026, 7, 12, 22, 0), True),  # Sunday 17:00 Central
    (utc(2026, 7, 15, 21, 0), False),  # Wednesday 16:00 Central: halted
    (utc(2026, 7, 15, 22, 0), True),  # Wednesday 17:00 Central
    # The weekend the clocks change: Sunday 2026-03-08 (CST→CDT) and Sunday 2026-11-01 (CDT→CST).
    (utc(2026, 3, 8, 22, 0), True),  # 17:00 CDT, already summer time
    (utc(2026, 3, 8, 21, 59), False),
    (utc(2026, 11, 1, 22, 0), False),  # 16:00 CST, back to winter time
    (utc(2026, 11, 1, 23, 0), True),
])
def test_es_sessions(at, open_):
    assert trading_hours.is_open("ES", at) is open_
    assert trading_hours.is_open("MES", at) is open_


def test_symbols_without_sessions_are_always_open():
    assert trading_hours.is_open("BTC/USDT:USDT", utc(2026, 12, 5, 12, 0))


def test_the_refusal_says_when_the_market_reopens():
    saturday = utc(2026, 12, 5, 12, 0)
    assert trading_hours.next_open("MES", saturday) == utc(2026, 12, 6, 23, 0)
    assert trading_hours.next_open("MES", utc(2026, 7, 15, 21, 30)) == utc(2026, 7, 15, 22, 0)  # after the halt
    message, metadata = trading_hours.closed("MES", saturday)
    assert "MES is outside its trading hours" in message
    assert "Sunday 2026-12-06 17:00 Central (2026-12-06 23:00 UTC)" in message
    assert metadata == {"symbol": "MES", "opens": "2026-12-06T23:00:00+00:00"}
