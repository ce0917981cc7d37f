"""`python -m venue_sim.ib --port 7497 --account DU0000001:1000000` (see venue_sim.ib.cli)."""

from venue_sim.ib.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
