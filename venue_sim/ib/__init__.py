"""A loopback Interactive Brokers TWS / IB Gateway: the TWS API socket protocol (server version
178) for unmodified ib_async, CME futures (ES, MES, NQ, MNQ), accounts with margin, orders and
executions, fault injection, and an admin HTTP API. Modules: protocol (framing and message
layouts), book (state and matching), faults, server (IbSimulator), admin."""

from venue_sim.ib.server import IbSimulator

__all__ = ["IbSimulator"]
