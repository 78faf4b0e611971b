"""Python stubs generated from the repository's `proto/` with grpcio-tools.

The stubs are generated on first import into `_gen/` beside this file (not
committed) and generated again whenever a `.proto` file changes (a SHA-256
of every proto's bytes is kept in `_gen/STAMP`), so the client always speaks
the protocol of the checkout it sits in. `python -m pulse_client`
does the same ahead of time.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
GEN = HERE / "_gen"
STAMP = GEN / "STAMP"


def proto_root() -> Path:
    """The `proto/` directory: `PULSE_PROTO_DIR`, else the checkout's."""
    env = os.environ.get("PULSE_PROTO_DIR")
    root = Path(env) if env else HERE.parents[2] / "proto"
    if not (root / "pulse" / "v1").is_dir():
        raise RuntimeError(
            f"no Pulse protos under {root} (expected pulse/v1/*.proto): set PULSE_PROTO_DIR"
        )
    return root


def _protos(root: Path) -> list[Path]:
    return sorted((root / "pulse" / "v1").glob("*.proto"))


def _digest(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        h.update(b"\0")
        h.update(f.read_bytes())
    return h.hexdigest()


def generate(force: bool = False) -> Path:
    """Generates the stubs into `_gen/` unless they match the protos already."""
    root = proto_root()
    files = _protos(root)
    digest = _digest(files)
    if not force and STAMP.exists() and STAMP.read_text().strip() == digest:
        return GEN
    from grpc_tools import protoc  # grpcio-tools

    include = Path(importlib.import_module("grpc_tools").__file__).parent / "_proto"
    tmp = Path(tempfile.mkdtemp(prefix="pulse-gen-", dir=HERE))
    try:
        args = [
            "grpc_tools.protoc",
            f"-I{root}",
            f"-I{include}",
            f"--python_out={tmp}",
            f"--grpc_python_out={tmp}",
            *[str(f.relative_to(root)) for f in files],
        ]
        if protoc.main(args) != 0:
            raise RuntimeError(f"grpc_tools.protoc failed on {root}")
        for d in (tmp / "pulse", tmp / "pulse" / "v1"):
            (d / "__init__.py").touch()
        (tmp / "STAMP").write_text(digest + "\n")
        if GEN.exists():
            shutil.rmtree(GEN)
        tmp.rename(GEN)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return GEN


def load():
    """Generates if needed and imports the `pulse.v1` modules (pb2 and grpc)."""
    gen = generate()
    if str(gen) not in sys.path:
        sys.path.insert(0, str(gen))
    names = [f.stem for f in _protos(proto_root())]
    mods = {}
    for n in names:
        mods[n] = importlib.import_module(f"pulse.v1.{n}_pb2")
        mods[n + "_grpc"] = importlib.import_module(f"pulse.v1.{n}_pb2_grpc")
    return mods
