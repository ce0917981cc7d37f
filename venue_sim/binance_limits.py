"""Binance's request-weight and order-count meters (pure; the clock is passed in).

Binance weighs every request against the caller's IP (REQUEST_WEIGHT, one-minute windows) and
counts orders against the account (ORDERS: spot per 10 seconds and per day, USDⓈ-M per 10
seconds and per minute). Windows are fixed, aligned to the clock (a minute window resets on the
minute). The spot REST API and the WebSocket API share one IP's weight; USDⓈ-M (/fapi) and the
wallet API (/sapi) keep their own. Answers carry what was used: X-MBX-USED-WEIGHT-1M and
X-MBX-ORDER-COUNT-10S / -1D (spot) or -10S / -1M (futures); /sapi answers
X-SAPI-USED-IP-WEIGHT-1M. The WebSocket API reports the same in each answer's `rateLimits`.

Measured, not enforced: a loopback venue has every client on one IP, so a limit per IP would
throttle the whole test run (faults.py injects the 429s and 418s tests need)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    kind: str  # REQUEST_WEIGHT | ORDERS
    interval: str  # SECOND | MINUTE | DAY
    num: int
    limit: int
    header: str

    @property
    def seconds(self) -> int:
        return self.num * {"SECOND": 1, "MINUTE": 60, "DAY": 86_400}[self.interval]

    def as_json(self) -> dict:
        """The exchangeInfo `rateLimits` row."""
        return {"rateLimitType": self.kind, "interval": self.interval, "intervalNum": self.num, "limit": self.limit}


# family -> (the IP's weight window, the account's order windows); the limits exchangeInfo publishes.
WINDOWS: dict[str, tuple[Window, tuple[Window, ...]]] = {
    "api": (Window("REQUEST_WEIGHT", "MINUTE", 1, 6000, "X-MBX-USED-WEIGHT-1M"),
            (Window("ORDERS", "SECOND", 10, 100, "X-MBX-ORDER-COUNT-10S"),
             Window("ORDERS", "DAY", 1, 200_000, "X-MBX-ORDER-COUNT-1D"))),
    "fapi": (Window("REQUEST_WEIGHT", "MINUTE", 1, 2400, "X-MBX-USED-WEIGHT-1M"),
             (Window("ORDERS", "SECOND", 10, 300, "X-MBX-ORDER-COUNT-10S"),
              Window("ORDERS", "MINUTE", 1, 1200, "X-MBX-ORDER-COUNT-1M"))),
    "sapi": (Window("REQUEST_WEIGHT", "MINUTE", 1, 12_000, "X-SAPI-USED-IP-WEIGHT-1M"), ()),
}


def family(path: str) -> str:
    """Which meter a path weighs on: "api" (spot, and the WebSocket API), "fapi" or "sapi"."""
    head = path.lstrip("/").split("/", 1)[0]
    return head if head in WINDOWS else "api"


def rate_limits_json(family_name: str) -> list[dict]:
    weight, orders = WINDOWS[family_name]
    return [weight.as_json(), *(w.as_json() for w in orders)]


class BinanceLimits:
    def __init__(self) -> None:
        self._counts: dict[tuple[str, str, Window], tuple[int, int]] = {}  # -> (window start, count)

    def _add(self, who: str, scope: str, window: Window, n: int, now: float) -> int:
        start = int(now) // window.seconds * window.seconds
        key = (who, scope, window)
        begun, count = self._counts.get(key, (start, 0))
        count = (count if begun == start else 0) + n
        self._counts[key] = (start, count)
        return count

    def weigh(self, family_name: str, ip: str, weight: int, now: float) -> list[tuple[Window, int]]:
        """Add a request's weight to the IP's window; -> [(window, used)]."""
        window = WINDOWS[family_name][0]
        return [(window, self._add(ip, family_name, window, weight, now))]

    def count_orders(self, family_name: str, account: str, n: int, now: float) -> list[tuple[Window, int]]:
        """Add n orders to the account's windows (n = 0 reads them); -> [(window, count)]."""
        return [(w, self._add(account, family_name, w, n, now)) for w in WINDOWS[family_name][1]]


def headers(used: list[tuple[Window, int]]) -> dict[str, str]:
    return {w.header: str(n) for w, n in used}


def ws_rate_limits(used: list[tuple[Window, int]]) -> list[dict]:
    """The WebSocket API's `rateLimits`: each window with its count."""
    return [{**w.as_json(), "count": n} for w, n in used]
