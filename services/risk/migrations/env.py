from services.kit.db import run_migrations_online
from services.risk.store import metadata

run_migrations_online(metadata)
