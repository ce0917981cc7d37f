"""Compliance test helpers: a compliance service with tables of its own, a bus to publish on,
and tokens for an operator and for the replication service."""

import dataclasses
import uuid
from datetime import UTC, datetime

import grpc
import pytest
import pytest_asyncio
from sqlalchemy import text

from copytrade.compliance.v1.compliance_internal_service_pb2_grpc import ComplianceInternalServiceStub
from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
from copytrade.replication.v1 import replication_events_pb2 as rep_events
from copytrade.type.v1 import trading_pb2
from services.compliance.server import create_server
from services.kit import auth, fillsign
from services.kit.bus import Bus
from services.kit.db import Database
from tests.conftest import TEST_SECRET


class Compliance:
    """A started compliance service and its stubs."""

    def __init__(self, settings, running) -> None:
        self.settings = settings
        self.running = running
        self.channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
        self.public = ComplianceServiceStub(self.channel)
        self.internal = ComplianceInternalServiceStub(self.channel)
        self.stopped = False

    async def sql(self, statement: str, **params):
        """Run raw SQL against this service's own tables (as someone with database access would)."""
        db = Database(self.settings)
        try:
            async with db.session() as session:
                result = await session.execute(text(statement), params)
                return result.all() if result.returns_rows else result.rowcount
        finally:
            await db.close()

    async def audit_key(self):
        """The audit chain's key, as someone holding MASTER_KEY and the database could open it."""
        from services.compliance.keyring import Keyring

        db = Database(self.settings)
        try:
            keyring = Keyring(db, self.settings.master_key)
            await keyring.open()
            return keyring.audit_key
        finally:
            await db.close()

    async def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            await self.channel.close()
            await self.running.stop(grace=0.2)


@pytest_asyncio.fixture
async def start_compliance(make_settings):
    """Start compliance with tables of its own (its own PostgreSQL schema, or SQLite file), so
    that an audit chain or a vault holds only what the test put there. Pass the same `name` to
    start another replica (or a restart) on the same tables."""
    started: list[Compliance] = []

    async def start(name: str | None = None, **overrides) -> Compliance:
        settings = dataclasses.replace(make_settings("compliance", **overrides),
                                       service=name or f"compliance_{uuid.uuid4().hex[:8]}")
        service = Compliance(settings, await create_server(settings))
        started.append(service)
        return service

    yield start
    for service in reversed(started):
        await service.stop()


@pytest_asyncio.fixture
async def bus(nats_server):
    connected = await Bus.connect(nats_server.url, f"compliance-tests-{uuid.uuid4().hex[:6]}")
    yield connected
    await connected.close()


@pytest.fixture
def operator(token_for):
    return token_for("op-1", auth.ROLE_OPERATOR)


@pytest.fixture
def replication_metadata():
    return (("authorization", f"Bearer {auth.service_token(TEST_SECRET, 'replication')}"),)


def master_fill(master_id: str, trade_no: int, at: datetime, *, quantity: str = "1", price: str = "100",
                symbol: str = "BTC/USDT") -> rep_events.MasterFill:
    account = f"acct-{master_id}"
    fill = rep_events.MasterFill(
        fill_id=f"{account}:{trade_no}", master_account_id=account, master_id=master_id,
        venue=trading_pb2.Venue(kind=trading_pb2.VENUE_KIND_CCXT, id="binance",
                                market_type=trading_pb2.MARKET_TYPE_SPOT),
        venue_trade_id=str(trade_no), venue_order_id=f"o{trade_no}", symbol=symbol, side=trading_pb2.SIDE_BUY,
        quantity=quantity, price=price, fee="0.1", fee_currency="USDT", order_type=trading_pb2.ORDER_TYPE_MARKET)
    fill.execute_time.FromDatetime(at.astimezone(UTC))
    return fill


async def publish_fill(bus: Bus, fill: rep_events.MasterFill, msg_id: str | None = None, *,
                       signer: fillsign.Signer | None = None) -> None:
    """As replication publishes it: signed (by default with the development key the services
    under test check)."""
    await bus.publish(f"fills.master.filled.{fill.master_account_id}", fill, msg_id=msg_id or fill.fill_id,
                      signer=signer or fillsign.Signer(fillsign.DEV_SIGNING_KEY))
