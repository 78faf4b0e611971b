#!/usr/bin/env bash
# Executes every notebook top to bottom against a real `pulse serve` on a small
# synthetic base, so the notebooks never rot (CI runs this after the tests).
#
#   notebooks/run.sh                 # all notebooks
#   notebooks/run.sh 03-why-this-account.ipynb
#
# Settings (environment):
#   PULSE=$CARGO_TARGET_DIR/debug/pulse (default target/)  built if missing
#   VENV=notebooks/.venv       created from notebooks/requirements.txt if missing
#   ACCOUNTS=300 MONTHS=18     size of the synthetic base
#   KEEP=1                     keep the data dir and the executed notebooks (printed)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
cd "$repo"

PULSE="${PULSE:-${CARGO_TARGET_DIR:-target}/debug/pulse}"
VENV="${VENV:-$here/.venv}"
ACCOUNTS="${ACCOUNTS:-300}"
MONTHS="${MONTHS:-18}"
PORT="${PORT:-50091}"

if [ ! -x "$PULSE" ]; then
    echo "building $PULSE" >&2
    cargo build --locked --bin pulse
fi
if [ ! -x "$VENV/bin/python" ]; then
    echo "creating $VENV from notebooks/requirements.txt" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q -r "$here/requirements.txt"
fi

# Committed notebooks carry no outputs (they are rerun here; outputs in git
# are noise and can leak data).
"$VENV/bin/python" - "$here"/[0-9][0-9]-*.ipynb <<'CHECK'
import sys, nbformat
dirty = [p for p in sys.argv[1:]
         if any(c.cell_type == "code" and (c.outputs or c.execution_count)
                for c in nbformat.read(p, as_version=4).cells)]
if dirty:
    sys.exit("notebooks with outputs (strip them with "
             "`jupyter nbconvert --clear-output --inplace`): " + ", ".join(dirty))
CHECK

work="$(mktemp -d /tmp/pulse-notebooks.XXXXXX)"
server_pid=""
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    if [ "${KEEP:-0}" = 1 ]; then
        echo "kept $work" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

# The notebooks read one set of models from start to end: no retraining run
# started by the server's drift check (the synthetic history drifts as it
# fills in), and no metrics port that could clash with a running demo.
cat >"$work/pulse.toml" <<'TOML'
[model_ops]
retrain_on_critical_drift = false
retrain_every_days = 0
[metrics]
enabled = false
TOML
export PULSE_CONFIG="$work/pulse.toml"

echo "== synthetic base ($ACCOUNTS accounts x $MONTHS months), models, scoring runs, lists" >&2
"$PULSE" --data-dir "$work/data" demo --accounts "$ACCOUNTS" --months "$MONTHS" --no-serve \
    >"$work/demo.log" 2>&1 || { tail -30 "$work/demo.log" >&2; exit 1; }
echo "== forecast backtest (stored in the time-to-churn model's card)" >&2
"$PULSE" --data-dir "$work/data" forecast backtest >"$work/backtest.log" 2>&1 \
    || { tail -30 "$work/backtest.log" >&2; exit 1; }

PULSE_WEB__ENABLED=false "$PULSE" --data-dir "$work/data" serve --addr "127.0.0.1:$PORT" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    kill -0 "$server_pid" 2>/dev/null || { tail -30 "$work/server.log" >&2; exit 1; }
    sleep 0.2
done

if [ "$#" -gt 0 ]; then
    notebooks=("$@")
else
    notebooks=("$here"/[0-9][0-9]-*.ipynb)
fi

PULSE_ADDR="127.0.0.1:$PORT" OUT="$work/executed" "$VENV/bin/python" - "${notebooks[@]}" <<'EOF'
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

out = Path(os.environ["OUT"])
out.mkdir(parents=True, exist_ok=True)
failed = []
for arg in sys.argv[1:]:
    path = Path(arg)
    if not path.exists():
        path = Path("notebooks") / arg
    nb = nbformat.read(path, as_version=4)
    started = time.monotonic()
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent.resolve())}})
    try:
        client.execute()
        status = "ok"
    except CellExecutionError as e:
        status = "FAILED"
        failed.append(path.name)
        print(str(e)[-3000:], file=sys.stderr)
    nbformat.write(nb, out / path.name)
    print(f"{status:6} {path.name} ({time.monotonic() - started:.1f} s)", flush=True)
if failed:
    sys.exit(f"notebooks failed: {', '.join(failed)}")
EOF
echo "all notebooks ran against the server (executed copies in $work/executed)" >&2
