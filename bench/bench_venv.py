"""The pinned virtualenv both benchmark scripts run in (shared by gbt_vs_lightgbm.py and
sentiment_loso.py)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path


def ensure_venv(venv: Path, requirements: Path, script: str) -> None:
    """Re-executes `script` inside `venv`, creating it and installing `requirements` first
    unless it already holds exactly these (a hash of the file is kept in the venv)."""
    if Path(sys.prefix).resolve() == venv.resolve():
        return
    py = venv / "bin" / "python"
    stamp = venv / ".requirements.sha256"
    want = hashlib.sha256(requirements.read_bytes()).hexdigest()
    if not py.exists():
        print(f"creating {venv}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    if not stamp.exists() or stamp.read_text().strip() != want:
        print(f"installing {requirements.name} into {venv}", flush=True)
        subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "--quiet", "-r", str(requirements)], check=True)
        stamp.write_text(want + "\n")
    os.execv(str(py), [str(py), str(Path(script).resolve()), *sys.argv[1:]])
