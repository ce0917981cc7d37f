"""Risk service: pre-trade limits, reservations, trading states, kill switch and breakers."""
