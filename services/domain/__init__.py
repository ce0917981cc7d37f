"""The logic services share, each decision in one place so a preview decides exactly as a live
copy does: instrument rounding (instruments), how big a copy is (sizing), a follower's copy
settings on the wire (copy_settings), the pre-trade risk decision and the limits it applies
(risk.checks, risk.limits), the performance ledger (ledger).

Pure functions and dataclasses. It imports only the kit and the generated contracts, never a
service: discovery's preview and replication's copier both import it, and neither the other
(tests/test_boundaries.py)."""
