from services.kit.config import Settings
from services.kit.server import run_forever
from services.replication.server import create_server

if __name__ == "__main__":
    run_forever(create_server, Settings.from_env("replication"))
