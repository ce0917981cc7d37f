"""Who may copy trade: approved KYC and acceptance of the current risk disclosure. Pure."""

from __future__ import annotations

import os

from copytrade.compliance.v1 import compliance_service_pb2 as pb
from services.kit import errors

DOMAIN = "compliance.copytrade"
RISK_DISCLOSURE = "risk_disclosure"


def current_disclosure_version() -> str:
    return os.environ.get("RISK_DISCLOSURE_VERSION", "2026-01")


def refusal(kyc_status: int | None, accepted_versions: set[str], current: str) -> errors.DomainError | None:
    """Why the user may not copy yet, or None when they may."""
    if kyc_status != pb.KYC_STATUS_APPROVED:
        status = pb.KycStatus.Name(kyc_status or pb.KYC_STATUS_NOT_SUBMITTED)
        message = {
            pb.KYC_STATUS_PENDING: "your identity verification is still being reviewed",
            pb.KYC_STATUS_REJECTED: "your identity verification was rejected; submit it again",
        }.get(kyc_status, "verify your identity before copying a trader")
        return errors.failed_precondition("KYC_NOT_APPROVED", message, domain=DOMAIN, kyc_status=status)
    if current not in accepted_versions:
        reason = "CONSENT_OUTDATED" if accepted_versions else "CONSENT_MISSING"
        return errors.failed_precondition(
            reason, f"accept the risk disclosure (version {current}) before copying a trader",
            domain=DOMAIN, document=RISK_DISCLOSURE, version=current)
    return None


def validate_kyc(request: pb.SubmitKycRequest) -> None:
    for field, limit in (("legal_name", 200), ("document_type", 40), ("document_number", 100)):
        value = getattr(request, field).strip()
        if not value or len(value) > limit:
            raise errors.invalid_argument("INVALID_KYC", f"{field} is required (at most {limit} characters)",
                                          domain=DOMAIN, field=field)
    if len(request.country) != 2 or not request.country.isalpha():
        raise errors.invalid_argument("INVALID_KYC", "country is an ISO 3166-1 alpha-2 code such as DE",
                                      domain=DOMAIN, field="country")
