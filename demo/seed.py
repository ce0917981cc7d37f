"""Seeding people, venue accounts and copy sessions through the services' public gRPC APIs,
as a person would through the app: register, log in, pass KYC (an operator decides), accept
the risk disclosure, store venue keys in the compliance vault, add the venue account, publish
a master profile, follow it. Never by writing a database.

Every step may run again on the same data: a taken email logs in instead, KYC already
approved is left alone, and creations carry a request_id so a repeat returns what the first
call made. That is what lets `copytrade up --demo` start twice on one data directory."""

from __future__ import annotations

import asyncio

import grpc
from google.protobuf import timestamp_pb2

from copytrade.compliance.v1 import compliance_service_pb2 as comp
from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
from copytrade.discovery.v1 import discovery_service_pb2 as disc
from copytrade.discovery.v1.discovery_service_pb2_grpc import DiscoveryServiceStub
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
from copytrade.risk.v1 import risk_service_pb2 as risk
from copytrade.risk.v1.risk_service_pb2_grpc import RiskServiceStub
from copytrade.type.v1 import trading_pb2
from services.compliance.eligibility import RISK_DISCLOSURE
from services.kit import clients
from services.kit.config import Settings, TlsFiles

CALL_TIMEOUT_S = 15.0
SPOT = trading_pb2.Venue(kind=trading_pb2.VENUE_KIND_CCXT, id="binance", market_type=trading_pb2.MARKET_TYPE_SPOT)
PERPETUAL = trading_pb2.Venue(kind=trading_pb2.VENUE_KIND_CCXT, id="binance",
                              market_type=trading_pb2.MARKET_TYPE_PERPETUAL)
FUTURES = trading_pb2.Venue(kind=trading_pb2.VENUE_KIND_CCXT, id="binance", market_type=trading_pb2.MARKET_TYPE_FUTURE)
HISTORY_CONCURRENCY = 16


class Login:
    """A logged-in person: their user id and the metadata carrying their token."""

    def __init__(self, reply: comp.LoginResponse) -> None:
        self.user_id = reply.user.user_id
        self.roles = list(reply.user.roles)
        self.metadata = (("authorization", f"Bearer {reply.access_token}"),)


class Seeder:
    def __init__(self, addresses: dict[str, str], tls: TlsFiles | None = None) -> None:
        """tls: a client certificate for services on mutual TLS (`up`'s client.pem)."""
        self.channels = {name: clients.balanced_channel(addresses[name], tls=tls)
                         for name in ("compliance", "replication", "discovery", "risk")}
        self.compliance = ComplianceServiceStub(self.channels["compliance"])
        self.replication = ReplicationServiceStub(self.channels["replication"])
        self.discovery = DiscoveryServiceStub(self.channels["discovery"])
        self.risk = RiskServiceStub(self.channels["risk"])

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()

    async def user(self, email: str, password: str, roles: list[int], display_name: str = "") -> Login:
        """Register, or log in when the email is taken (a second run)."""
        try:
            await self.compliance.RegisterUser(comp.RegisterUserRequest(
                email=email, password=password, roles=roles, display_name=display_name), timeout=CALL_TIMEOUT_S)
        except grpc.aio.AioRpcError as err:
            if err.code() != grpc.StatusCode.ALREADY_EXISTS:
                raise
        try:
            return Login(await self.compliance.Login(comp.LoginRequest(email=email, password=password),
                                                     timeout=CALL_TIMEOUT_S))
        except grpc.aio.AioRpcError as err:
            if err.code() == grpc.StatusCode.UNAUTHENTICATED:
                raise RuntimeError(f"{email} exists with another password: this data directory was seeded with "
                                   "a different demo.json; use a fresh --data-dir") from None
            raise

    async def verify(self, person: Login, operator: Login) -> None:
        """KYC approved by an operator and the current risk disclosure accepted."""
        kyc = (await self.compliance.GetKyc(comp.GetKycRequest(user_id=person.user_id), metadata=person.metadata,
                                            timeout=CALL_TIMEOUT_S)).kyc
        if kyc.status != comp.KYC_STATUS_APPROVED:
            if kyc.status != comp.KYC_STATUS_PENDING:
                await self.compliance.SubmitKyc(comp.SubmitKycRequest(
                    user_id=person.user_id, legal_name="Demo Person", country="DE", document_type="passport",
                    document_number="DEMO00001"), metadata=person.metadata, timeout=CALL_TIMEOUT_S)
            await self.compliance.DecideKyc(comp.DecideKycRequest(user_id=person.user_id, approve=True,
                                                                  comment="demo"),
                                            metadata=operator.metadata, timeout=CALL_TIMEOUT_S)
        await self.compliance.RecordConsent(comp.RecordConsentRequest(
            user_id=person.user_id, document=RISK_DISCLOSURE, version=Settings.from_env("compliance").risk_disclosure_version),
            metadata=person.metadata, timeout=CALL_TIMEOUT_S)

    async def risk_limits(self, person: Login, limits: risk.RiskLimits, fields: list[str]) -> None:
        await self.risk.UpdateRiskLimits(risk.UpdateRiskLimitsRequest(
            user_id=person.user_id, limits=limits, update_mask={"paths": fields}), metadata=person.metadata,
            timeout=CALL_TIMEOUT_S)

    async def venue_account(self, person: Login, venue: trading_pb2.Venue, api_key: str, secret: str, *,
                            role: int, watch_fills: bool = False, label: str = "demo") -> rep.VenueAccount:
        """The keys in the compliance vault, and a venue account trading with them."""
        credential = (await self.compliance.StoreCredential(comp.StoreCredentialRequest(
            user_id=person.user_id, venue=venue, label=label, api_key=api_key, api_secret=secret,
            request_id=f"{label}-credential"), metadata=person.metadata, timeout=CALL_TIMEOUT_S)).credential
        return (await self.replication.CreateVenueAccount(rep.CreateVenueAccountRequest(
            user_id=person.user_id, role=role, venue=venue, credential_id=credential.credential_id, label=label,
            watch_fills=watch_fills, request_id=f"{label}-account"), metadata=person.metadata,
            timeout=CALL_TIMEOUT_S)).account

    async def master_profile(self, master: Login, profile: disc.MasterProfile) -> disc.MasterProfile:
        """A public profile, so the master shows in the leaderboard."""
        return (await self.discovery.CreateMasterProfile(disc.CreateMasterProfileRequest(
            profile=profile, request_id="demo-profile"), metadata=master.metadata, timeout=CALL_TIMEOUT_S)).profile

    async def follow(self, follower: Login, trader_id: str, account_id: str, settings: rep.CopySettings,
                     key: str) -> rep.CopySession:
        """Follow through discovery (which counts the follower) and so start a copy session."""
        return (await self.discovery.FollowTrader(disc.FollowTraderRequest(
            trader_id=trader_id, follower_id=follower.user_id, follower_account_id=account_id, settings=settings,
            request_id=f"demo-follow-{key}"), metadata=follower.metadata, timeout=CALL_TIMEOUT_S)).session

    async def past_fills(self, master: Login, account_id: str, symbol: str, fills) -> int:
        """A master's earlier trades (demo.history) through the signal API, each with
        its time, fee and the equity it left; returns how many were new."""
        gate = asyncio.Semaphore(HISTORY_CONCURRENCY)

        async def submit(fill) -> bool:
            when = timestamp_pb2.Timestamp()
            when.FromDatetime(fill.time)
            async with gate:
                reply = await self.replication.SubmitMasterFill(rep.SubmitMasterFillRequest(
                    master_account_id=account_id, venue_trade_id=fill.trade_id, symbol=symbol,
                    side=trading_pb2.SIDE_BUY if fill.side == "buy" else trading_pb2.SIDE_SELL,
                    quantity=format(fill.quantity, "f"), price=format(fill.price, "f"), fee=format(fill.fee, "f"),
                    fee_currency="USDT", master_equity=format(fill.equity, "f"), execute_time=when),
                    metadata=master.metadata, timeout=CALL_TIMEOUT_S)
            return reply.created
        return sum(await asyncio.gather(*(submit(f) for f in fills)))
