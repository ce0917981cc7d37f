"""The demo, `copytrade up --demo` (demo.cli): the venue simulator, seeded people and trading
master bots (runner), seeding through the public APIs (seed), the bots (bot), the masters' earlier
trades (history) and what survives a restart (state). Not production: it lives beside services/,
which imports nothing of it (tests/test_boundaries.py)."""
