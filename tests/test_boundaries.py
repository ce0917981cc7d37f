"""Where code may reach, checked on the source itself.

Production (services/) knows nothing of the venue simulator or the demo: a service starts, and
opens a venue at an overridden address, in a process where venue_sim cannot be imported. No
service imports another's modules: what they share (sizing, copy settings, the risk decision,
instrument rounding, the performance ledger) lives in services/domain/, which imports no
service, beside the kit. The simulators carry their own venue data instead of production's,
so a wrong production table is caught by a test rather than agreed with."""

from __future__ import annotations

import ast
import asyncio
import json
import os
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("discovery", "replication", "risk", "compliance", "gateway")
SHARED = ("services.kit", "services.domain")  # what every service may import
DEV_ONLY = ("venue_sim", "demo")  # the simulator and the demo: tests, demo and bench only

# A meta-path finder that refuses the development-only packages, whatever sys.path holds.
BLOCKER = textwrap.dedent(f"""
    import importlib.abc, sys

    class NoDevPackages(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {DEV_ONLY!r}:
                raise ModuleNotFoundError(f"{{name}} is not importable here (a production process)", name=name)
            return None

    sys.meta_path.insert(0, NoDevPackages())
""")


def run_without_dev_packages(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    path = os.pathsep.join([str(ROOT), str(ROOT / "api" / "python"), os.environ.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-c", BLOCKER + textwrap.dedent(code)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": path, **(env or {})})


def test_every_service_imports_where_venue_sim_cannot_be_imported():
    done = run_without_dev_packages("""
        import services
        import services.replication.server, services.risk.server, services.discovery.server
        import services.compliance.server, services.gateway.server
        import services.cli, services.launcher
        assert not [m for m in sys.modules if m.split(".")[0] in ("venue_sim", "demo")]
        print("imported")
    """)
    assert done.returncode == 0 and done.stdout.strip() == "imported", done.stderr


async def test_replication_opens_a_venue_at_an_overridden_address_without_venue_sim():
    """VENUE_URLS takes ccxt's API URL map for a venue (a testnet's, or the simulator's, which
    venue_sim supplies): the production process reaches the venue there by configuration alone."""
    from venue_sim import Simulator, ccxt_urls

    sim = await Simulator(seed=3).start()
    try:
        account = sim.create_account("alice", {"USDT": "1234"})
        done = await asyncio.to_thread(run_without_dev_packages, """
            import asyncio, os
            from types import SimpleNamespace

            from copytrade.type.v1 import trading_pb2
            from services.kit.config import Settings
            from services.replication.store import VenueAccountRow
            from services.replication.venue_pool import VenuePool

            class Vault:  # compliance's FetchCredential, as replication calls it
                async def FetchCredential(self, request, timeout=None):
                    return SimpleNamespace(api_key=os.environ["KEY"], api_secret=os.environ["SECRET"],
                                           passphrase="")

            async def main():
                pool = VenuePool(Settings.from_env("replication"), Vault())
                try:
                    venue = await pool.get(VenueAccountRow(
                        account_id="a1", user_id="u1", venue_kind=trading_pb2.VENUE_KIND_CCXT, venue_id="binance",
                        market_type=trading_pb2.MARKET_TYPE_SPOT, credential_id="c1"))
                    print(await venue.free_balance("USDT"))
                finally:
                    await pool.close()

            asyncio.run(main())
        """, {"VENUE_URLS": json.dumps({"binance": ccxt_urls(sim.url)}), "KEY": account.api_key,
              "SECRET": account.secret})
    finally:
        await sim.stop()
    assert done.returncode == 0 and Decimal(done.stdout.strip()) == 1234, done.stderr


# --- the import graph, from the source -------------------------------------------------------

def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in the file, at any depth (lazy imports inside functions
    too), relative ones resolved; `from a import b` also yields a.b (b may be a module), and
    importlib.import_module("literal") counts as an import."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names if alias.name != "*"]
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "import_module" and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            found.append((node.lineno, node.args[0].value))
    return found


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def offences(root: str, allowed) -> list[str]:
    out = {}
    for path in sorted((ROOT / root).rglob("*.py")):
        importer = module_name(path)
        for line, target in imports(path):
            why = allowed(importer, target)
            if why:  # one line per import statement: its module, not each name it takes
                out.setdefault((str(path.relative_to(ROOT)), line), f"imports {target}: {why}")
    return [f"{path}:{line} {what}" for (path, line), what in sorted(out.items())]


def production_rule(importer: str, target: str) -> str | None:
    if any(within(target, dev) for dev in DEV_ONLY):
        return "production imports a development-only package"
    if within(importer, "services.domain"):
        if within(target, "services") and target != "services" and not any(within(target, p) for p in SHARED):
            return "the domain package imports only the kit and generated contracts"
        return None
    if within(importer, "services.kit"):
        if within(target, "services") and target != "services" and not within(target, "services.kit"):
            return "the kit imports nothing above it"
        return None
    own = next((s for s in SERVICES if within(importer, f"services.{s}")), None)
    if own is None:
        return None  # the launcher, the CLI, ops tools: they put the services together
    other = next((s for s in SERVICES if s != own and within(target, f"services.{s}")), None)
    if other:
        return f"{own} imports another service's module ({other}); share it through services.domain"
    return None


def test_no_service_imports_the_simulator_the_demo_or_another_services_modules():
    assert offences("services", production_rule) == []


def test_the_import_graph_check_sees_what_it_is_meant_to():
    """The rule above, on imports it must refuse and ones it must let through."""
    refused = [("services.replication.venue_pool", "venue_sim.ccxt_config"),
               ("services.cli", "venue_sim.__main__"), ("services.launcher", "demo.runner"),
               ("services.discovery.preview", "services.replication.sizing"),
               ("services.discovery.service", "services.risk.limits"),
               ("services.replication.performance", "services.discovery.stats"),
               ("services.domain.sizing", "services.replication.venues.base"),
               ("services.kit.bus", "services.domain.sizing")]
    allowed = [("services.discovery.preview", "services.domain.sizing"),
               ("services.replication.copier", "services.replication.fills"),
               ("services.risk.service", "services.kit.errors"),
               ("services.domain.copy_settings", "services.kit.validation"),
               ("services.domain.risk.limits", "copytrade.risk.v1.risk_service_pb2"),
               ("services.launcher", "services.replication.server")]
    assert all(production_rule(*pair) for pair in refused), [p for p in refused if not production_rule(*p)]
    assert not any(production_rule(*pair) for pair in allowed), [p for p in allowed if production_rule(*p)]
    source = ROOT / "services" / "replication" / "venue_pool.py"
    assert all(isinstance(line, int) for line, _ in imports(source))  # a real file parses


def simulator_rule(importer: str, target: str) -> str | None:
    if within(target, "services"):
        return "a simulator takes its venue's data from the code it tests"
    return None


def test_the_simulators_carry_their_own_venue_data():
    assert offences("venue_sim", simulator_rule) == []


# The launcher is the operator's process that puts the mesh together: it hands its own
# environment on to the services it starts (and keeps the secrets it was given), so reading the
# environment as a whole is its job; what any service is configured with is read in kit/config.py.
ENVIRONMENT_READERS = {"services/kit/config.py": "the configuration module",
                       "services/launcher.py": "passes its environment on to the services it starts"}


def environment_reads(path: Path) -> list[int]:
    """Lines reading the process environment: os.environ (any use), os.getenv, os.putenv."""
    tree = ast.parse(path.read_text(), filename=str(path))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb") \
                and isinstance(node.value, ast.Name) and node.value.id == "os":
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "os" \
                and any(alias.name in ("environ", "getenv", "environb") for alias in node.names):
            lines.append(node.lineno)
    return sorted(set(lines))


def test_configuration_is_read_from_the_environment_in_one_place():
    """Every variable a service is configured by is read in services/kit/config.py (Settings),
    so README's table, the defaults and the checks of a bad value live in one home."""
    found = [f"{path.relative_to(ROOT)}:{line}" for path in sorted((ROOT / "services").rglob("*.py"))
             if str(path.relative_to(ROOT)) not in ENVIRONMENT_READERS for line in environment_reads(path)]
    assert found == []


def test_the_environment_check_sees_what_it_is_meant_to(tmp_path):
    source = tmp_path / "reader.py"
    source.write_text("import os\nfrom os import getenv\nA = os.environ.get('A')\nB = os.getenv('B')\n"
                      "C = dict(os.environ)\nD = os.path.join('x')\n")
    assert environment_reads(source) == [2, 3, 4, 5]
