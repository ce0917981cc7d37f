"""Replication service: venue accounts, copy sessions, master fills in, follower orders out."""
