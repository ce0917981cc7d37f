"""Venue adapters: one interface (base.Venue), one adapter per connector family."""
