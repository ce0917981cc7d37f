"""KYC and consent: operators decide, users see why they cannot copy yet, documents stay secret."""

import uuid

import grpc
import pytest
from sqlalchemy import text

from copytrade.compliance.v1 import compliance_service_pb2 as pb
from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
from services.kit.db import Database
from services.kit.errors import error_info


async def test_eligibility_follows_kyc_and_consent(start_service, backend, token_for):
    svc = await start_service("compliance")
    stub = ComplianceServiceStub(svc.channel)
    user = f"u_{uuid.uuid4().hex[:8]}"
    document_number = f"P{uuid.uuid4().hex[:10]}"

    async def why_not():
        reply = await stub.CheckCopyEligibility(pb.CheckCopyEligibilityRequest(user_id=user), metadata=token_for(user))
        return "" if reply.eligible else reply.refusal.reason

    assert await why_not() == "KYC_NOT_APPROVED"
    await stub.SubmitKyc(pb.SubmitKycRequest(user_id=user, legal_name="Ada L", country="GB", document_type="passport",
                                             document_number=document_number), metadata=token_for(user))
    with pytest.raises(grpc.aio.AioRpcError) as err:  # users cannot approve themselves
        await stub.DecideKyc(pb.DecideKycRequest(user_id=user, approve=True), metadata=token_for(user))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    decided = (await stub.DecideKyc(pb.DecideKycRequest(user_id=user, approve=True),
                                    metadata=token_for("op-1", "operator"))).kyc
    assert decided.status == pb.KYC_STATUS_APPROVED and decided.decided_by == "op-1"
    assert await why_not() == "CONSENT_MISSING"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.RecordConsent(pb.RecordConsentRequest(user_id=user, document="risk_disclosure", version="1999"),
                                 metadata=token_for(user))
    assert error_info(err.value).reason == "CONSENT_VERSION_UNKNOWN"
    await stub.RecordConsent(pb.RecordConsentRequest(user_id=user, document="risk_disclosure", version="2026-01"),
                             metadata=token_for(user))
    assert await why_not() == ""

    db = Database(svc.settings)  # the document number is stored encrypted
    async with db.session() as session:
        rows = (await session.execute(text("SELECT * FROM kyc_verifications"))).all()
    await db.close()
    assert document_number not in repr(rows)
    kyc = (await stub.GetKyc(pb.GetKycRequest(user_id=user), metadata=token_for(user))).kyc
    assert document_number not in str(kyc)


async def test_bad_kyc_submission_names_the_field(start_service, token_for):
    stub = ComplianceServiceStub((await start_service("compliance")).channel)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.SubmitKyc(pb.SubmitKycRequest(user_id="u1", legal_name="A", country="Germany",
                                                 document_type="passport", document_number="1"),
                             metadata=token_for("u1"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and error_info(err.value).metadata["field"] == "country"
