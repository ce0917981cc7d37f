"""Fault injection for the IB simulator, one-shot or N times, per operation and account.

Each kind is something TWS / IB Gateway really does to an API client:

    latency                 hold the request latency_ms before handling it (a slow gateway)
    error_after_accept      execute the order, then answer only error 322 "Error processing request"
                            (IB's internal-server-error) instead of openOrder / orderStatus / execDetails
    unknown_after_accept    execute the order, then report error 1100 "Connectivity between IB and
                            Trader Workstation has been lost" (and 1102 restored) with no order messages:
                            the client cannot know the outcome
    disconnect_after_accept execute the order, then close the socket without an answer
    pacing                  refuse with error 100 "Max rate of messages per second has been exceeded"
    reject                  refuse with error `code` (default 201 "Order rejected - reason:") and `msg`

operation: "place" (placeOrder), "cancel" (cancelOrder), "query" (reqOpenOrders, reqAllOpenOrders,
reqCompletedOrders, reqExecutions), or "*"."""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field

from venue_sim.faults import FaultBook

KINDS = ("latency", "error_after_accept", "unknown_after_accept", "disconnect_after_accept", "pacing", "reject")
OPERATIONS = ("place", "cancel", "query", "*")
_ids = itertools.count(1)


@dataclass
class Fault:
    kind: str
    operation: str = "place"
    account: str = "*"  # IB account code, or "*"
    count: int = 1  # requests it strikes; -1 for all
    latency_ms: int = 0
    code: int = 0
    msg: str = ""
    id: int = field(default_factory=lambda: next(_ids))
    hits: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {', '.join(KINDS)}")
        if self.operation not in OPERATIONS:
            raise ValueError(f"unknown operation {self.operation!r}; one of {', '.join(OPERATIONS)}")
        if self.count == 0 or self.count < -1:
            raise ValueError("count is a positive number of requests, or -1 for all")

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class FaultPlan:
    latency_s: float = 0.0
    refuse: tuple[int, str] | None = None  # (error code, message): answered instead of executing
    after: str | None = None  # "error" | "unknown" | "disconnect": execute, then this


class IbFaults(FaultBook):
    fault_type = Fault

    def plan(self, operation: str, account: str | None) -> FaultPlan:
        plan = FaultPlan()
        for fault in self.strike(lambda f: f.operation in ("*", operation) and f.account in ("*", account)):
            if fault.kind == "latency":
                plan.latency_s += fault.latency_ms / 1000
            elif fault.kind == "pacing":
                plan.refuse = plan.refuse or (fault.code or 100, fault.msg or
                                              "Max rate of messages per second has been exceeded:max=50 rec=51 (001)")
            elif fault.kind == "reject":
                plan.refuse = plan.refuse or (fault.code or 201, fault.msg or "Order rejected - reason:")
            else:
                plan.after = {"error_after_accept": "error", "unknown_after_accept": "unknown",
                              "disconnect_after_accept": "disconnect"}[fault.kind]
        return plan
