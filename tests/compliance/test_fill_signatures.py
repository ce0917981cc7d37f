"""Compliance records a master fill only with replication's signature (services/kit/fillsign.py):
one forged, unsigned or tampered on the bus is neither a trade nor in a report."""

import base64
import uuid
from datetime import UTC, datetime, timedelta

from copytrade.compliance.v1 import compliance_service_pb2 as pb
from services.kit import fillsign, metrics
from services.kit.testing import eventually
from tests.compliance.conftest import master_fill, publish_fill
from tests.conftest import publish_unverified_fill

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def refused(reason: str) -> float:
    return metrics.FILLS_UNVERIFIED.labels(reason)._value.get()


async def test_compliance_records_only_fills_replication_signed(start_compliance, bus, token_for):
    svc = await start_compliance()
    master = f"m-{uuid.uuid4().hex[:8]}"
    before = {reason: refused(reason) for reason in ("FILL_UNSIGNED", "FILL_BAD_SIGNATURE")}
    other_key = fillsign.Signer(fillsign.generate()[fillsign.SIGNING_VARIABLE])
    forged = master_fill(master, 1, AT)
    await publish_fill(bus, forged, signer=other_key)  # signed, by another key
    await publish_unverified_fill(bus, master_fill(master, 2, AT), signature=None)
    await publish_unverified_fill(bus, master_fill(master, 3, AT), signature=base64.b64encode(b"x" * 64).decode())
    tampered = master_fill(master, 4, AT, quantity="1000")
    await publish_unverified_fill(bus, tampered, signature=None, sign_payload=master_fill(master, 4, AT).SerializeToString())
    await publish_fill(bus, master_fill(master, 5, AT))  # replication's: after the others, on the same consumer

    request = pb.ExportTradeReportRequest(user_id=master, format=pb.REPORT_FORMAT_CSV)
    request.start_time.FromDatetime(AT - timedelta(days=1))
    request.end_time.FromDatetime(AT + timedelta(days=1))

    async def reported():
        return (await svc.public.ExportTradeReport(request, metadata=token_for(master))).trade_count

    await eventually(lambda: reported(), message="the signed fill is a trade")
    assert await reported() == 1
    trades = await svc.sql("SELECT trade_id FROM trades WHERE user_id = :u", u=master)
    assert [t[0] for t in trades] == [master_fill(master, 5, AT).fill_id]
    assert refused("FILL_UNSIGNED") - before["FILL_UNSIGNED"] >= 1
    assert refused("FILL_BAD_SIGNATURE") - before["FILL_BAD_SIGNATURE"] >= 3
