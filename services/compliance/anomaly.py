"""Compliance monitoring rules: unusual order size, bursts of orders, logins from a new address.
Pure: the numbers go in, a finding (or None) comes out; monitor.py stores and announces them."""

from __future__ import annotations

import ipaddress
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

ORDER_SIZE_ANOMALY = "ORDER_SIZE_ANOMALY"
ORDER_BURST = "ORDER_BURST"
NEW_LOGIN_ADDRESS = "NEW_LOGIN_ADDRESS"

# Proxies whose X-Forwarded-For is believed (the gateway runs on loopback or a private network);
# a caller reaching the service from anywhere else is judged by its own address.


@dataclass(frozen=True)
class Thresholds:
    # An order is unusual when its notional is more than size_factor times the median of the
    # user's previous size_history orders (and they have at least that many).
    size_factor: Decimal = Decimal(5)
    size_history: int = 10
    # One alert for a run of unusual sizes (a master who steps their size up): none again for
    # the user within this long (trade time) of the last.
    size_cooldown: timedelta = timedelta(minutes=30)
    # A burst is more orders within burst_window than the user's own pattern: burst_factor times
    # their usual count per window over the last baseline_window (once at least
    # baseline_min_span of history shows it), and never fewer than burst_count. A master who
    # always trades every 2 s is not bursting; one who usually trades hourly and sends 25
    # orders in a minute is.
    burst_count: int = 20
    burst_window: timedelta = timedelta(seconds=60)
    burst_factor: Decimal = Decimal(3)
    baseline_window: timedelta = timedelta(hours=24)
    baseline_min_span: timedelta = timedelta(minutes=10)
    # One alert per burst: no second ORDER_BURST for the user within this long of the last one.
    burst_cooldown: timedelta = timedelta(minutes=30)


@dataclass(frozen=True)
class Finding:
    kind: str
    message: str
    dedup_key: str  # the same finding raised twice is one alert
    details: dict[str, str] = field(default_factory=dict)


def notional(quantity: Decimal, price: Decimal) -> Decimal:
    """An order's size in its quote currency, or its quantity when no price is known."""
    return abs(quantity * price) if price > 0 else abs(quantity)


def size_anomaly(user_id: str, trade_id: str, size: Decimal, history: list[Decimal],
                 thresholds: Thresholds = Thresholds()) -> Finding | None:
    """`history`: the notionals of the user's previous orders, newest first."""
    recent = history[:thresholds.size_history]
    if len(recent) < thresholds.size_history:
        return None  # too little history to call anything unusual
    median = statistics.median(recent)
    if median <= 0 or size <= median * thresholds.size_factor:
        return None
    ratio = (size / median).quantize(Decimal("0.1"))
    return Finding(ORDER_SIZE_ANOMALY, f"an order of size {size} is {ratio}x the median ({median}) of the "
                   f"user's last {len(recent)} orders", f"size:{trade_id}",
                   {"trade_id": trade_id, "size": str(size), "median": str(median), "ratio": str(ratio),
                    "history": str(len(recent)), "factor": str(thresholds.size_factor)})


def usual_per_window(prior_count: int, span: timedelta, thresholds: Thresholds = Thresholds()) -> Decimal | None:
    """The user's usual orders per burst window: `prior_count` orders over `span` of history
    before the current window. None while the history is shorter than baseline_min_span."""
    if span < thresholds.baseline_min_span or span <= timedelta(0):
        return None
    return (Decimal(prior_count) * Decimal(thresholds.burst_window / span)).quantize(Decimal("0.1"))


def burst(user_id: str, at: datetime, count_in_window: int, thresholds: Thresholds = Thresholds(),
          usual: Decimal | None = None) -> Finding | None:
    """`count_in_window`: the user's orders in (at - window, at], this one included; `usual`:
    their usual count per window (usual_per_window), None when not known yet."""
    limit = max(Decimal(thresholds.burst_count), thresholds.burst_factor * usual if usual is not None else 0)
    if count_in_window <= limit:
        return None
    window = int(thresholds.burst_window.total_seconds())
    against = (f"{thresholds.burst_factor}x this user's usual {usual} per {window}s" if usual is not None
               else "no pattern of this user's yet")
    return Finding(ORDER_BURST, f"{count_in_window} orders within {window}s, more than {limit} ({against})",
                   f"burst:{user_id}:{at.isoformat()}",
                   {"count": str(count_in_window), "window_s": str(window), "limit": str(limit),
                    "usual": "" if usual is None else str(usual), "factor": str(thresholds.burst_factor)})


def new_login_address(user_id: str, address: str, known: set[str]) -> Finding | None:
    """A login from an address the user has not logged in from before (the first login is not news)."""
    if not address or not known or address in known:
        return None
    return Finding(NEW_LOGIN_ADDRESS, "login from an address this user has not logged in from before",
                   f"login:{user_id}:{address}", {"address": address, "known_addresses": str(len(known))})


# --- where a call comes from -----------------------------------------------------------------
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_proxies(spec: str) -> list[Network]:
    """Settings.trusted_proxies (COMPLIANCE_TRUSTED_PROXIES): comma-separated networks."""
    return [ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip()]


def peer_ip(peer: str) -> str:
    """The IP of a gRPC peer string: "ipv4:1.2.3.4:5678", "ipv6:[::1]:5678"; "" for others."""
    kind, _, rest = (peer or "").partition(":")
    if kind == "ipv4":
        host = rest.rsplit(":", 1)[0]
    elif kind == "ipv6":
        host = rest.rsplit(":", 1)[0].strip("[]") if rest.startswith("[") else rest
    else:
        return ""
    return _ip(host)


def client_address(peer: str, forwarded_for: str, trusted: list[Network]) -> str:
    """The address a call really comes from. X-Forwarded-For counts only when the immediate peer
    is a trusted proxy; it is read right to left, skipping trusted hops, so a client cannot pass
    off an address of its choosing by sending the header itself."""
    address = peer_ip(peer)
    if not forwarded_for or not _within(address, trusted):
        return address
    for hop in reversed([part.strip() for part in forwarded_for.split(",")]):
        hop_ip = _ip(hop)
        if not hop_ip:
            return address  # malformed: fall back to what the network says
        address = hop_ip
        if not _within(hop_ip, trusted):
            break
    return address


def _ip(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return ""


def _within(address: str, networks: list[Network]) -> bool:
    if not address:
        return False
    ip = ipaddress.ip_address(address)
    return any(ip.version == net.version and ip in net for net in networks)
