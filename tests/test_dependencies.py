"""pyproject.toml says what the code needs: every third-party import under services/ (and the
venue simulator and the API package it ships with) is a declared runtime dependency, tools that
only build or test stay out of them, and ./dev installs whatever the tests, tools and benchmarks
import. Read from the code's own import statements, matched to the installed distribution that
owns each imported file."""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
import tomllib
from functools import cache
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
FIRST_PARTY = {"services", "venue_sim", "demo", "copytrade", "tests", "tools", "bench"}
# What the copytrade distribution ships (pyproject's packages.find), i.e. what production runs.
SHIPPED = ("services", "venue_sim", "demo", "api/python/copytrade")
# Build and test tools: never a runtime dependency, never imported by what ships.
DEV_ONLY = {"grpcio-tools", "mypy-protobuf", "buf-bin", "pytest", "hypothesis", "mypy"}


def requirements(names: list[str]) -> dict[str, Requirement]:
    return {canonicalize_name(r.name): r for r in map(Requirement, names)}


RUNTIME = requirements(PYPROJECT["project"]["dependencies"])
EXTRAS = {extra: requirements(names) for extra, names in PYPROJECT["project"]["optional-dependencies"].items()}


def imports(*folders: str) -> dict[tuple[str, ...], set[str]]:
    """Third-party imports anywhere under `folders` (a function's own imports too), each with
    the files making it: `from a.b import c` as (a.b.c, a.b), a.b.c counting where it is a module."""
    found: dict[tuple[str, ...], set[str]] = {}
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            beside = {p.stem for p in path.parent.iterdir() if p.suffix == ".py" or p.is_dir()}  # a script's own
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    candidates = [(alias.name,) for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    candidates = [(f"{node.module}.{alias.name}", node.module) for alias in node.names]
                else:
                    continue
                for names in candidates:
                    top = names[-1].split(".")[0]
                    if not (top in sys.stdlib_module_names or top in FIRST_PARTY or top in beside
                            or top == "__future__"):
                        found.setdefault(names, set()).add(str(path.relative_to(ROOT)))
    return found


@cache
def owners_of_files() -> dict[Path, str]:
    owned = {}
    for dist in metadata.distributions():
        for file in dist.files or ():
            owned[Path(dist.locate_file(file)).resolve()] = canonicalize_name(dist.metadata["Name"])
    return owned


def spec_of(*candidates: str):
    for module in candidates:
        try:
            spec = importlib.util.find_spec(module)
        except ModuleNotFoundError:  # a.b is a module, so a.b.c is a name in it
            spec = None
        except ValueError:  # imported already, by a loader that set no __spec__
            spec = importlib.util.spec_from_file_location(module, sys.modules[module].__file__)
        if spec is not None:
            return spec
    raise AssertionError(f"{candidates[-1]} is imported but not installed")


def distribution_of(*candidates: str) -> str:
    """The installed distribution whose files hold the first of `candidates` that is a module."""
    spec = spec_of(*candidates)
    paths = [spec.origin] if spec.origin not in (None, "namespace", "built-in", "frozen") else \
        list(spec.submodule_search_locations or ())
    owned = owners_of_files()
    for path in (Path(p).resolve() for p in paths):
        if path in owned:
            return owned[path]
        for file, dist in owned.items():  # a namespace package's folder: whoever owns its files
            if path in file.parents:
                return dist
    raise AssertionError(f"no installed distribution owns {spec.name} ({paths})")


def distributions_imported(*folders: str) -> dict[str, set[str]]:
    by_dist: dict[str, set[str]] = {}
    for candidates, where in imports(*folders).items():
        by_dist.setdefault(distribution_of(*candidates), set()).update(where)
    return by_dist


def test_every_third_party_import_of_what_ships_is_a_declared_runtime_dependency():
    imported = distributions_imported(*SHIPPED)
    assert {"grpcio", "protobuf", "googleapis-common-protos", "ccxt", "websockets"} <= set(imported)  # it reads
    undeclared = {dist: sorted(where)[:3] for dist, where in imported.items() if dist not in RUNTIME}
    assert not undeclared, f"imported but not in [project].dependencies: {undeclared}"


def test_build_and_test_tools_are_not_runtime_dependencies_and_what_ships_never_imports_them():
    assert not DEV_ONLY & set(RUNTIME), DEV_ONLY & set(RUNTIME)
    assert "grpcio-tools" in EXTRAS["dev"]
    imported = distributions_imported(*SHIPPED)
    assert not DEV_ONLY & set(imported), {d: imported[d] for d in DEV_ONLY & set(imported)}
    # and at run time: every shipped module imports with grpc_tools unavailable
    probe = """
import importlib, pkgutil, sys
sys.modules["grpc_tools"] = None  # any import of it raises ImportError
import services, venue_sim
for package in (services, venue_sim):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if module.name.endswith("__main__") or ".migrations" in module.name:
            continue  # __main__ runs a service; alembic loads migrations (their imports are read above)
        importlib.import_module(module.name)
print("imported")
"""
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip().endswith("imported"), done.stderr[-3000:]


def installed_with(requested: list[Requirement]) -> set[str]:
    """The distributions pip installs for `requested`: them and what they require, transitively."""
    seen: set[str] = set()
    todo = [(r, "") for r in requested]
    while todo:
        req, extra = todo.pop()
        if req.marker and not req.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(req.name)
        if name in seen and not req.extras:
            continue
        seen.add(name)
        for line in metadata.requires(name) or ():
            todo += [(Requirement(line), wanted) for wanted in ("", *req.extras)]
    return seen


def test_dev_installs_whatever_the_tests_tools_and_benchmarks_import():
    line = next(line for line in (ROOT / "dev").read_text().splitlines() if "pip install" in line and "-e" in line)
    extras = re.search(r"\.\[([a-z,]+)\]", line).group(1).split(",")
    installed = installed_with([*RUNTIME.values(), *(r for extra in extras for r in EXTRAS[extra].values())])
    imported = distributions_imported("tests", "tools", "bench")
    missing = {dist: sorted(where)[:3] for dist, where in imported.items() if dist not in installed}
    assert not missing, f"imported, but ./dev installs only [project].dependencies and {extras}: {missing}"


def test_libraries_whose_internals_the_venue_adapters_hook_are_bounded_above():
    # ccxt: its throttle, calculate_rate_limiter_cost, on_rest_response and ccxt.pro's clients;
    # async_rithmic: its plants' _process_response and _login; ib_async: its wrapper's requests.
    for name in ("ccxt", "async-rithmic", "ib-async"):
        specifier = RUNTIME[name].specifier
        assert any(spec.operator in ("<", "<=", "==", "~=") for spec in specifier), f"{name}{specifier}"
        assert specifier.contains(metadata.version(name)), f"the installed {name} is outside {specifier}"
