"""Discovery service: master profiles, performance statistics, ranking, follow, copy preview."""
