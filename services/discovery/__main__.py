from services.discovery.server import create_server
from services.kit.config import Settings
from services.kit.server import run_forever

if __name__ == "__main__":
    run_forever(create_server, Settings.from_env("discovery"))
