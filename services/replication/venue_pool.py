"""Open venue connections, one per venue account, made from credentials the compliance vault
hands to replication. Credentials live in memory only, inside the venue client."""

from __future__ import annotations

import asyncio
import hashlib
import logging

import aiohttp
import grpc

from copytrade.compliance.v1 import compliance_internal_service_pb2 as compliance_pb
from copytrade.compliance.v1.compliance_internal_service_pb2_grpc import ComplianceInternalServiceStub
from copytrade.type.v1 import trading_pb2
from services.kit import metrics
from services.kit.config import CCXT_SANDBOX, Settings
from services.replication.budget import Budgets
from services.replication.store import VenueAccountRow
from services.replication.venues import ninjatrader_venue, rithmic_venue
from services.replication.venues.base import ErrorKind, Venue, VenueError
from services.replication.venues.ccxt_venue import CcxtVenue
from services.replication.venues.ib_venue import ib_venue_from_credential

MARKET_TYPES = {trading_pb2.MARKET_TYPE_SPOT: "spot", trading_pb2.MARKET_TYPE_PERPETUAL: "swap",
                trading_pb2.MARKET_TYPE_FUTURE: "future"}

# The venue kinds with an adapter. Besides ccxt, each is opened by its module's
# from_credential(api_key=, api_secret=, passphrase=, venue_url=), which documents the field mapping.
OPENERS = {trading_pb2.VENUE_KIND_CCXT: CcxtVenue,
           trading_pb2.VENUE_KIND_NINJATRADER: ninjatrader_venue.from_credential,
           trading_pb2.VENUE_KIND_RITHMIC: rithmic_venue.from_credential,
           trading_pb2.VENUE_KIND_IB: ib_venue_from_credential}  # opened with the account id (below)


def ccxt_location(venue_id: str, override: str | dict | None) -> dict:
    """The ccxt constructor settings that point a ccxt venue where VENUE_URLS says
    (services.kit.config.venue_urls_from_json): its testnet by ccxt's sandbox mode, or the API
    URLs given in place of ccxt's (deep-merged: those not given stay the venue's)."""
    if override is None:
        return {}
    if override == CCXT_SANDBOX:
        return {"sandbox": True}
    if isinstance(override, dict):
        return {"urls": {"api": override}}
    raise VenueError(ErrorKind.PLATFORM, f"VENUE_URLS[{venue_id!r}] is {override!r}; a ccxt venue takes "
                                         f"\"{CCXT_SANDBOX}\" or an object of its API URLs by ccxt's names")


log = logging.getLogger("copytrade.replication.venue_pool")
VENUE_CLOSE_S = 5.0  # how long shutdown waits for one venue connection to close
FETCH_BATCH = 1000  # credentials per FetchCredentials call (compliance's bound)


class VenuePool:
    def __init__(self, settings: Settings, compliance: ComplianceInternalServiceStub) -> None:
        self.settings = settings
        self.compliance = compliance
        self._venues: dict[str, Venue] = {}
        self._opening: dict[str, asyncio.Lock] = {}
        self.budgets = Budgets()  # every venue's request budget, shared by this process's accounts
        self.replica_slot = 0  # this replica's slot (ownership.Ownership): IB client ids differ per replica
        # Per venue host (venue id, market): one HTTP session, its keep-alive connections
        # serving every account's requests, and the markets loaded by the first account opened.
        self._http: dict[tuple[str, str], aiohttp.ClientSession] = {}
        self._markets_from: dict[tuple[str, str], CcxtVenue] = {}
        self._markets_loading: dict[tuple[str, str], asyncio.Lock] = {}

    async def get(self, account: VenueAccountRow) -> Venue:
        venue = self._venues.get(account.account_id)
        if venue is not None:
            return venue
        async with self._opening.setdefault(account.account_id, asyncio.Lock()):
            if account.account_id not in self._venues:
                self._venues[account.account_id] = await self._open(account)
                metrics.VENUES_OPEN.set(len(self._venues))
        return self._venues[account.account_id]

    async def warm(self, accounts: list[VenueAccountRow]) -> None:
        """Open these (ccxt) accounts ahead of their first copy (at start-up: the followers of
        every live session), so a fill reaching a fresh replica is not held up opening a thousand
        venues. What cannot be opened now is opened (or said) at its copy."""
        # ccxt accounts only: a REST client costs nothing to hold, while a gateway or ATI
        # connection (IB, Rithmic, NinjaTrader) is opened when its first copy needs it.
        await self.open_many([a for a in accounts if a.venue_kind == trading_pb2.VENUE_KIND_CCXT])
        log.info("%d venue connections open", len(self._venues))

    async def open_many(self, accounts: list[VenueAccountRow]) -> None:
        """Open the accounts not open yet, their credentials fetched in calls of a thousand (a
        fill's followers after a restart: one call, not one each, which would have compliance
        answer a thousand at once). One that cannot be opened here is left to get(), which
        says why."""
        closed = [a for a in {a.account_id: a for a in accounts}.values()
                  if a.account_id not in self._venues and a.venue_kind in OPENERS]
        for start in range(0, len(closed), FETCH_BATCH):
            chunk = closed[start:start + FETCH_BATCH]
            try:
                reply = await self.compliance.FetchCredentials(compliance_pb.FetchCredentialsRequest(credentials=[
                    compliance_pb.FetchCredentialRequest(credential_id=a.credential_id, user_id=a.user_id)
                    for a in chunk]), timeout=30)
            except grpc.aio.AioRpcError:
                return  # get() fetches one by one, and fails with the reason
            await asyncio.gather(*(self._open_with(account, result.credential)
                                   for account, result in zip(chunk, reply.results) if not result.error_reason),
                                 return_exceptions=True)

    async def _open_with(self, account: VenueAccountRow, credential) -> None:
        async with self._opening.setdefault(account.account_id, asyncio.Lock()):
            if account.account_id not in self._venues:
                self._venues[account.account_id] = await self._open(account, credential)
                metrics.VENUES_OPEN.set(len(self._venues))

    async def _open(self, account: VenueAccountRow, credential=None) -> Venue:
        if account.venue_kind not in OPENERS:
            raise VenueError(ErrorKind.PLATFORM, f"no adapter yet for venue kind {account.venue_kind}")
        if credential is None:
            credential = await self.compliance.FetchCredential(compliance_pb.FetchCredentialRequest(
                credential_id=account.credential_id, user_id=account.user_id), timeout=10)
        override = self.settings.venue_urls.get(account.venue_id)
        if account.venue_kind == trading_pb2.VENUE_KIND_CCXT:
            return await self._open_ccxt(account, credential, override)
        if override is not None and not isinstance(override, str):
            raise VenueError(ErrorKind.PLATFORM, f"VENUE_URLS[{account.venue_id!r}] is an object; this venue takes "
                                                 "its gateway's address")
        base_url = override
        if account.venue_kind == trading_pb2.VENUE_KIND_IB:
            # api_key: the IB account code; api_secret: the TWS/Gateway API "host:port" (VENUE_URLS of
            # the venue id, e.g. the simulator's, overrides it); passphrase: an API client id.
            venue: Venue = ib_venue_from_credential(
                account_code=credential.api_key, client_id=credential.passphrase, account_id=account.account_id,
                address=base_url or credential.api_secret, replica_slot=self.replica_slot)
            await venue.connect()
            return venue
        # Each adapter's from_credential says how the vault's fields map to its settings.
        venue = OPENERS[account.venue_kind](api_key=credential.api_key, api_secret=credential.api_secret,
                                            passphrase=credential.passphrase, venue_url=base_url or "")
        await venue.connect()
        return venue

    async def _open_ccxt(self, account: VenueAccountRow, credential, override: str | dict | None) -> Venue:
        config: dict = {"enableRateLimit": self.settings.venue_rate_limit, **ccxt_location(account.venue_id, override)}
        market = MARKET_TYPES.get(account.market_type, "spot")
        host = (account.venue_id, market)  # VENUE_URLS moves a venue id's every account alike
        if host not in self._http:  # no connection limit here: the budgets bound what is sent
            self._http[host] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, enable_cleanup_closed=True))
        config["session"] = self._http[host]  # ccxt then leaves the session open when the client closes
        config["timeout_on_exit"] = 0  # ...so its close() has no TLS teardown to wait 250 ms for (close() below does)
        venue = CcxtVenue(account.venue_id, api_key=credential.api_key, secret=credential.api_secret,
                          password=credential.passphrase, market_type=market, config=config)
        # The venue counts orders per venue account, which its API key names: followers registered
        # with one key share its counts (the key's digest, not the key, names it here).
        key_id = hashlib.sha256(credential.api_key.encode()).hexdigest()
        key_budget = self.budgets.for_key(account.venue_id, key_id, market)
        if self.settings.venue_rate_limit and key_budget is not None:  # one budget per venue, not per client
            venue.use_budget(key_budget)
        if host not in self._markets_from:  # the first account on the host loads the markets...
            async with self._markets_loading.setdefault(host, asyncio.Lock()):
                if host not in self._markets_from:
                    await venue.connect()
                    self._markets_from[host] = venue
                    return venue
        # ...and the others take them from it (no request: load_markets finds them loaded).
        venue.exchange.set_markets_from_exchange(self._markets_from[host].exchange)
        await venue.connect()
        return venue

    async def evict(self, account_id: str) -> None:
        """Close the account's connection and forget it, with the credentials inside."""
        venue = self._venues.pop(account_id, None)
        self._opening.pop(account_id, None)
        metrics.VENUES_OPEN.set(len(self._venues))
        if venue is not None:
            await venue.close()

    def holds(self, account_id: str) -> bool:
        return account_id in self._venues

    async def close(self) -> None:
        """Close every venue at once, each given VENUE_CLOSE_S: a venue that does not answer its
        goodbye must not hold up the service's shutdown."""
        closing = {asyncio.ensure_future(venue.close()): key for key, venue in self._venues.items()}
        done, pending = await asyncio.wait(closing, timeout=VENUE_CLOSE_S) if closing else (set(), set())
        for task in pending:
            task.cancel()
            log.warning("venue %s did not close within %.0fs; left behind", closing[task], VENUE_CLOSE_S)
        for task in done:
            if task.exception() is not None:
                log.warning("venue %s failed to close: %s", closing[task], type(task.exception()).__name__)
        self._venues.clear()
        self._markets_from.clear()
        for session in self._http.values():
            await session.close()
        self._http.clear()
