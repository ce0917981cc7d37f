"""`python -m demo [--data-dir DIR] [--port-base B] ...`: `copytrade up --demo` from a checkout,
whatever entry points the installed copy declares."""

import sys

from demo.cli import register
from services.cli import main

if __name__ == "__main__":
    sys.exit(main(["up", "--demo", *sys.argv[1:]], plugins=[register]))
