"""Bybit's request limits, enforced as Bybit does (pure; the clock is passed in).

- Per IP: at most 600 HTTP requests in any 5-second window; beyond that the IP is banned
  (HTTP 403 "access too frequent") for a while (Bybit: at least 10 minutes).
- Per UID and endpoint: a rolling one-second window (order/create: 10/s linear, 20/s spot;
  reads mostly 50/s). Past it: retCode 10006 "Too many visits!". Every private answer carries
  X-Bapi-Limit (the limit), X-Bapi-Limit-Status (what is left) and
  X-Bapi-Limit-Reset-Timestamp (ms: when a refused caller may come back; else now).

Every limit is data and can be changed per account (and the IP limit per simulator)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

# Per-UID limits per second: endpoint -> limit, or {category: limit}.
UID_LIMITS: dict[str, int | dict[str, int]] = {
    "/v5/order/create": {"spot": 20, "linear": 10},
    "/v5/order/cancel": {"spot": 20, "linear": 10},
    "/v5/order/amend": {"spot": 20, "linear": 10},
    "/v5/order/cancel-all": {"spot": 20, "linear": 10},
    "/v5/order/realtime": 50, "/v5/order/history": 50, "/v5/execution/list": 50, "/v5/position/list": 50,
    "/v5/account/wallet-balance": 50, "/v5/account/info": 50, "/v5/position/set-leverage": 10,
    "/v5/position/switch-mode": 10, "/v5/user/query-api": 10, "/v5/asset/coin/query-info": 10,
}
DEFAULT_UID_LIMIT = 50
IP_LIMIT = 600
IP_WINDOW_S = 5.0
IP_BAN_S = 600.0


@dataclass
class Verdict:
    ip_banned_until: float | None = None  # refused: the IP is banned (HTTP 403)
    too_many: bool = False  # refused: retCode 10006
    headers: dict[str, str] = field(default_factory=dict)


class RateLimits:
    def __init__(self, *, ip_limit: int = IP_LIMIT, ip_window_s: float = IP_WINDOW_S,
                 ip_ban_s: float = IP_BAN_S) -> None:
        self.ip_limit, self.ip_window_s, self.ip_ban_s = ip_limit, ip_window_s, ip_ban_s
        self.overrides: dict[str, dict[str, int]] = {}  # account -> {"endpoint[:category]": per second}
        self.enabled = True
        self.refused_uid = 0  # 10006 answers given
        self.refused_ip = 0  # 403 answers given (including the one that started a ban)
        self._ip_log: dict[str, deque[float]] = {}
        self._banned: dict[str, float] = {}
        self._uid_log: dict[tuple[str, str], deque[float]] = {}

    def limit(self, account: str, endpoint: str, category: str | None) -> int:
        override = self.overrides.get(account, {})
        for key in (f"{endpoint}:{category}", endpoint):
            if key in override:
                return override[key]
        table = UID_LIMITS.get(endpoint, DEFAULT_UID_LIMIT)
        if isinstance(table, dict):
            return table.get(category or "linear", min(table.values()))
        return table

    def set_limit(self, account: str, endpoint: str, per_second: int, category: str | None = None) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self.overrides.setdefault(account, {})[f"{endpoint}:{category}" if category else endpoint] = per_second

    def ip(self, address: str, now: float) -> float | None:
        """Count one request from this address; the end of its ban if it is (now) banned."""
        if not self.enabled:
            return None
        until = self._banned.get(address)
        if until is not None and until > now:
            self.refused_ip += 1
            return until
        log = self._ip_log.setdefault(address, deque())
        while log and log[0] <= now - self.ip_window_s:
            log.popleft()
        log.append(now)
        if len(log) > self.ip_limit:
            self._banned[address] = now + self.ip_ban_s
            log.clear()
            self.refused_ip += 1
            return now + self.ip_ban_s
        return None

    def uid(self, account: str, endpoint: str, category: str | None, now: float) -> Verdict:
        """Count one request of this account to this endpoint (a refused one does not count)."""
        limit = self.limit(account, endpoint, category)
        key = (account, f"{endpoint}:{category}" if isinstance(UID_LIMITS.get(endpoint), dict) else endpoint)
        log = self._uid_log.setdefault(key, deque())
        while log and log[0] <= now - 1.0:
            log.popleft()
        verdict = Verdict()
        if self.enabled and len(log) >= limit:
            verdict.too_many = True
            self.refused_uid += 1
            reset = log[0] + 1.0
        else:
            log.append(now)
            reset = now
        verdict.headers = {"X-Bapi-Limit": str(limit), "X-Bapi-Limit-Status": str(max(limit - len(log), 0)),
                           "X-Bapi-Limit-Reset-Timestamp": str(int(reset * 1000))}
        return verdict

    def lift_bans(self) -> None:
        self._banned.clear()
        self._ip_log.clear()

    def to_json(self) -> dict:
        return {"enabled": self.enabled, "ip_limit": self.ip_limit, "ip_window_s": self.ip_window_s,
                "ip_ban_s": self.ip_ban_s, "refused_uid": self.refused_uid, "refused_ip": self.refused_ip,
                "banned": sorted(self._banned), "overrides": self.overrides}
