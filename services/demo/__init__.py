"""`copytrade up --demo`: the venue simulator, seeded people and a trading master bot (runner),
seeding through the public APIs (seed), the bot (bot) and what survives a restart (state)."""
