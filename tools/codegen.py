"""Regenerate the Python API package from proto/ — the project's one codegen command: messages
(`_pb2.py`), gRPC stubs (`_pb2_grpc.py`), typed stubs for both (`.pyi`, mypy-protobuf) and a
descriptor set with comments (for the gateway's OpenAPI and every service's reflection).

    python tools/codegen.py          # write api/python/copytrade/**
    python tools/codegen.py --check  # exit 1 if the committed code has drifted from proto/
    python tools/codegen.py --vendor # only copy the third-party protos (what buf needs)

Third-party protos (google/api, google/rpc) are copied out of the googleapis-common-protos
wheel into the git-ignored third_party/proto, which buf.yaml lists as a second module; every
`./dev` command that installs or finds them missing copies them, so buf works on a fresh clone.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import sys
import tempfile
from pathlib import Path

from google.api import annotations_pb2  # googleapis-common-protos ships the .proto sources
import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO = ROOT / "proto"
THIRD_PARTY = ROOT / "third_party" / "proto"
OUT = ROOT / "api" / "python"
PACKAGE = "copytrade"
DESCRIPTOR_SET = "descriptor_set.binpb"
# Written by hand, inside the generated package: kept by every regeneration, part of the wheel.
HANDWRITTEN = ["errors.py"]
THIRD_PARTY_FILES = {
    "google/api": ["annotations.proto", "http.proto", "field_behavior.proto"],
    "google/rpc": ["status.proto", "error_details.proto", "code.proto"],
}


def vendor_third_party() -> Path:
    site = Path(annotations_pb2.__file__).resolve().parent.parent.parent
    for folder, names in THIRD_PARTY_FILES.items():
        (THIRD_PARTY / folder).mkdir(parents=True, exist_ok=True)
        for name in names:
            shutil.copyfile(site / folder / name, THIRD_PARTY / folder / name)
    return THIRD_PARTY


def proto_files() -> list[str]:
    return sorted(str(p.relative_to(PROTO)) for p in PROTO.rglob("*.proto"))


def plugin(name: str) -> str:
    """A protoc plugin installed beside this Python (mypy-protobuf's, from the dev extra)."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise SystemExit(f"{name} is missing: ./dev installs it (mypy-protobuf, in the dev extra)")
    return found


def generate(out: Path) -> None:
    vendor_third_party()
    well_known = Path(grpc_tools.__file__).resolve().parent / "_proto"
    files = proto_files()
    pkg = out / PACKAGE
    kept = {name: (OUT / PACKAGE / name).read_bytes() for name in HANDWRITTEN if (OUT / PACKAGE / name).exists()}
    if pkg.exists():
        shutil.rmtree(pkg)
    out.mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO}",
        f"-I{THIRD_PARTY}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        # Typed stubs (.pyi) for both, with the .proto comments as docstrings: mypy-protobuf's.
        f"--plugin=protoc-gen-mypy={plugin('protoc-gen-mypy')}",
        f"--plugin=protoc-gen-mypy_grpc={plugin('protoc-gen-mypy_grpc')}",
        f"--mypy_out=quiet:{out}",
        f"--mypy_grpc_out=quiet:{out}",
        # Descriptors with comments: the gateway's OpenAPI and reflection (services/kit/descriptors.py).
        f"--descriptor_set_out={pkg / DESCRIPTOR_SET}",
        "--include_source_info",
        "--include_imports",
        *files,
    ]
    pkg.mkdir(parents=True, exist_ok=True)
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for directory, _dirs, _files in os.walk(pkg):
        init = Path(directory) / "__init__.py"
        if not init.exists():
            init.write_text("")
    (pkg / "py.typed").write_text("")
    for name, text in kept.items():
        (pkg / name).write_bytes(text)


def drifted(a: Path, b: Path) -> list[str]:
    cmp = filecmp.dircmp(a, b, ignore=["__pycache__"])
    problems = [f"only in committed: {cmp.left}/{n}" for n in cmp.left_only]
    problems += [f"missing from committed: {cmp.right}/{n}" for n in cmp.right_only]
    _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    problems += [f"differs: {a / n}" for n in mismatch + errors]
    for sub in cmp.common_dirs:
        problems += drifted(a / sub, b / sub)
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail if generated code drifted")
    parser.add_argument("--vendor", action="store_true", help="only copy the third-party protos into "
                        f"{THIRD_PARTY.relative_to(ROOT)} (what buf lint, build and breaking need)")
    args = parser.parse_args()
    if args.vendor:
        vendor_third_party()
        return 0
    if not args.check:
        generate(OUT)
        print(f"generated {len(proto_files())} proto files into {OUT / PACKAGE}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        problems = drifted(OUT / PACKAGE, Path(tmp) / PACKAGE)
    if problems:
        print("generated code has drifted from proto/; run `./dev gen`:", *problems, sep="\n  ")
        return 1
    print("generated code matches proto/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
