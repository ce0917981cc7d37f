"""Compliance service: identity and login, KYC and consent, the credential vault, audit, reports."""
