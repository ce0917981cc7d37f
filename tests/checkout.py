"""A subprocess running this checkout as `pip install -e .` installs it: its packages first on
the path, and the entry points its pyproject.toml declares (the `copytrade` command's plugins,
services/cli.py) as the installed metadata, whether or not the environment's install is older
than the pyproject (it is, between a pyproject change and the next `./dev`)."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def checkout_env(scratch: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    info = scratch / f"{project['name']}-{project['version']}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    groups = {"console_scripts": project.get("scripts", {}), **project.get("entry-points", {})}
    (info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{name} = {target}\n" for name, target in entries.items()) + "\n"
        for group, entries in groups.items()))
    base = dict(os.environ if env is None else env)
    path = [str(scratch), str(ROOT), str(ROOT / "api" / "python"), base.get("PYTHONPATH", "")]
    return {**base, "PYTHONPATH": os.pathsep.join(p for p in path if p)}
