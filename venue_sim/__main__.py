"""`python -m venue_sim --host 127.0.0.1 --port 0 --seed 1` (see venue_sim.cli)."""

from venue_sim.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
