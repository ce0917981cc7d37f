"""Login throttling, decided before a password is checked (NIST 800-63B §5.2.2).

Each failed login counts against the account (its email, known or not, so the answer does not
tell which emails exist) and against the caller's address. Up to `free` failures are allowed;
past that every attempt must wait `base_s * 2**(failures - free)` seconds (at most `max_s`) after
the last failure, and one made sooner is refused without looking at the password. A success
clears the account's count; the address's count fades after `forget_s` without failures.

The attempt is counted before the password is checked, so a burst of parallel guesses cannot
all slip in under the limit (a success then takes its count back). Account counts live in the
database, under a hash of the email, (every replica sees them); address counts live in each replica's memory, like the
gateway's rate limit: an address spread over N replicas gets N times the allowance.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError

from services.compliance.store import LoginThrottleRow
from services.kit import errors
from services.kit.config import Settings
from services.kit.db import Database, aware

DOMAIN = "compliance.copytrade"


@dataclass(frozen=True)
class Policy:
    free: int
    base_s: float
    max_s: float
    forget_s: float

    def wait_s(self, failures: int, last_failure: datetime | None, now: datetime) -> float:
        """Seconds until another attempt may be made (0: now)."""
        if failures < self.free or last_failure is None:
            return 0.0
        if (now - last_failure).total_seconds() >= self.forget_s:
            return 0.0
        delay = min(self.max_s, self.base_s * 2 ** min(failures - self.free, 32))
        return max(0.0, delay - (now - last_failure).total_seconds())

    def fresh(self, failures: int, last_failure: datetime | None, now: datetime) -> int:
        """The count as it stands now (forgotten after a quiet spell)."""
        if last_failure is None or (now - last_failure).total_seconds() >= self.forget_s:
            return 0
        return failures


def account_policy(settings: Settings) -> Policy:
    return Policy(free=settings.login_free_failures_account, base_s=settings.login_backoff_base_s,
                  max_s=settings.login_backoff_max_s, forget_s=24 * 3600)


def address_policy(settings: Settings) -> Policy:
    return Policy(free=settings.login_free_failures_address, base_s=settings.login_backoff_base_s,
                  max_s=settings.login_backoff_max_s, forget_s=3600)


def account_key(email: str) -> str:
    """What the table holds for an email: its hash, so failed logins store no address in clear
    (erasure deletes the row all the same)."""
    return hashlib.sha256(email.encode()).hexdigest()


def throttled(wait_s: float, what: str) -> errors.DomainError:
    seconds = max(1, math.ceil(wait_s))
    return errors.resource_exhausted("LOGIN_THROTTLED", f"too many failed logins for this {what}; try again in "
                                     f"{seconds}s", domain=DOMAIN, retry_after_seconds=seconds)


class LoginThrottle:
    def __init__(self, db: Database, account: Policy, address: Policy, max_addresses: int = 100_000) -> None:
        self.db = db
        self.account, self.address = account, address
        self.max_addresses = max_addresses
        self._addresses: dict[str, tuple[int, datetime]] = {}

    async def attempt(self, email: str, address: str) -> None:
        """Count an attempt, or raise LOGIN_THROTTLED if one may not be made yet."""
        now = datetime.now(UTC)
        failures, last = self._addresses.get(address, (0, None))
        wait = self.address.wait_s(failures, last, now) if address else 0.0
        if wait:
            raise throttled(wait, "address")
        for _ in range(2):  # a first failure of two parallel attempts: one insert wins, the other retries
            try:
                async with self.db.session() as session:
                    row = await session.get(LoginThrottleRow, account_key(email), with_for_update=self.db.is_postgres)
                    if row is None:
                        row = LoginThrottleRow(account=account_key(email), failures=0, last_failure=None)
                        session.add(row)
                    last_failure = aware(row.last_failure)
                    wait = self.account.wait_s(row.failures, last_failure, now)
                    if wait:
                        raise throttled(wait, "account")
                    row.failures = self.account.fresh(row.failures, last_failure, now) + 1
                    row.last_failure = now
                break
            except IntegrityError:
                continue
        if address:
            if len(self._addresses) >= self.max_addresses and address not in self._addresses:
                self._addresses.clear()
            self._addresses[address] = (self.address.fresh(failures, last, now) + 1, now)

    async def succeeded(self, email: str, address: str) -> None:
        """The password was right: the account starts over, the address gets its attempt back."""
        async with self.db.session() as session:
            row = await session.get(LoginThrottleRow, account_key(email), with_for_update=self.db.is_postgres)
            if row is not None:
                await session.delete(row)
        failures, last = self._addresses.get(address, (0, None))
        if failures > 0 and last is not None:
            self._addresses[address] = (failures - 1, last)
