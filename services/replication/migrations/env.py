from services.kit.db import run_migrations_online
from services.replication.store import metadata

run_migrations_online(metadata)
