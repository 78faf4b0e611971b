#!/usr/bin/env bash
# Score latency benchmark: in one run, on one machine,
#   1. `pulse serve` on a prepared data dir, loaded by `pulse-bench score`;
#   2. the bare tonic stub (`pulse-bench score --stub-server`), the transport
#      ceiling Pulse's throughput is reported against;
#   3. the same model served by Python grpcio (bench/python_score_server.py),
#      checked against Pulse's probabilities (--compare) then loaded the same way;
# then one comparison table (server, mode, rps, p50, p99, p99.9, errors).
# Closed-loop runs cover Score by id, by raw features by name (`raw`) and in
# schema order (`ordered`), each with drivers and without (`/nd`).
#
# Build both binaries:     cargo build --release -p pulse -p pulse-bench
# Prepare the data once:   cargo run --release -- demo --no-serve
# Then:                    bench/score_bench.sh
#
# Settings (environment):
#   DATA_DIR=data            prepared data dir (store + models/registry.json)
#   PULSE=target/release/pulse              the server (`pulse serve`)
#   PULSE_BENCH=target/release/pulse-bench  the load generator and its stub
#   DURATION=10 WARMUP=2 CONCURRENCY=32 CONNECTIONS=2
#   RATES="10000 20000"      open-loop runs (latency at a fixed rate) after the
#                            closed-loop (max throughput) ones; "" for none
#   SERVERS="pulse stub python"
#   PY_PROCESSES=1           Python server processes sharing the port
#   VENV=/tmp/pulse-bench-venv   created with bench/requirements.txt if missing
#   STUB_MODEL=0             1: stand in for `pulse serve` with the model stub
#                            (`--stub-server --stub-model`) until ScoringService lands
#   PULSE_BENCH_API_KEY      sent as `authorization: Bearer ...` if set
#   OUT=bench-out/score-<time>   raw outputs (JSON lines, logs)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
cd "$repo"

DATA_DIR="${DATA_DIR:-data}"
PULSE="${PULSE:-target/release/pulse}"
PULSE_BENCH="${PULSE_BENCH:-target/release/pulse-bench}"
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-2}"
CONCURRENCY="${CONCURRENCY:-32}"
CONNECTIONS="${CONNECTIONS:-2}"
RATES="${RATES-10000 20000}"
SERVERS="${SERVERS:-pulse stub python}"
PY_PROCESSES="${PY_PROCESSES:-1}"
VENV="${VENV:-/tmp/pulse-bench-venv}"
STUB_MODEL="${STUB_MODEL:-0}"
OUT="${OUT:-bench-out/score-$(date +%Y%m%d-%H%M%S)}"
PORT_PULSE="${PORT_PULSE:-50071}"
PORT_STUB="${PORT_STUB:-50072}"
PORT_PY="${PORT_PY:-50073}"

for b in "$PULSE" "$PULSE_BENCH"; do
    [ -x "$b" ] || { echo "no $b: cargo build --release -p pulse -p pulse-bench first" >&2; exit 1; }
done
[ -f "$DATA_DIR/models/registry.json" ] || {
    echo "no promoted models in $DATA_DIR/models: run 'cargo run --release -- demo --no-serve' first" >&2
    exit 1
}
mkdir -p "$OUT"
results="$OUT/results.jsonl"
: >"$results"

pids=()
cleanup() {
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    wait 2>/dev/null || true
}
trap cleanup EXIT

wait_port() { # port seconds
    local i
    for ((i = 0; i < $2 * 5; i++)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.2
    done
    echo "nothing listens on port $1 after $2 s" >&2
    return 1
}

stop() { # pid
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# Every process of a server (a Python server forks its workers).
tree_pids() {
    local p="$1" out="$1" c
    for c in $(pgrep -P "$p" 2>/dev/null || true); do out="$out,$(tree_pids "$c")"; done
    echo "$out"
}

bench() { # label port pid [extra args...]
    local label="$1" port="$2" pid="$3"
    shift 3
    local common=(--addr "127.0.0.1:$port" --features "$OUT/features.csv" --label "$label"
        --concurrency "$CONCURRENCY" --connections "$CONNECTIONS" --duration "$DURATION"
        --warmup "$WARMUP" --server-pid "$(tree_pids "$pid")" --json)
    echo "== $label: closed loop" >&2
    "$PULSE_BENCH" score "${common[@]}" --mode all "$@" | tee -a "$OUT/$label.txt" | grep '^{' >>"$results"
    echo "== $label: closed loop, without drivers" >&2
    "$PULSE_BENCH" score "${common[@]}" --mode all --without-drivers "$@" | tee -a "$OUT/$label.txt" | grep '^{' >>"$results"
    for r in $RATES; do
        echo "== $label: open loop at $r/s" >&2
        "$PULSE_BENCH" score "${common[@]}" --rate "$r" | tee -a "$OUT/$label.txt" | grep '^{' >>"$results"
        "$PULSE_BENCH" score "${common[@]}" --rate "$r" --mode raw --without-drivers \
            | tee -a "$OUT/$label.txt" | grep '^{' >>"$results"
    done
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores" | tee "$OUT/machine.txt"

# 1. Pulse.
if [ "$STUB_MODEL" = 1 ]; then
    "$PULSE_BENCH" --data-dir "$DATA_DIR" score --stub-server "127.0.0.1:$PORT_PULSE" --stub-model \
        >"$OUT/pulse-server.log" 2>&1 &
else
    "$PULSE" --data-dir "$DATA_DIR" serve --addr "127.0.0.1:$PORT_PULSE" >"$OUT/pulse-server.log" 2>&1 &
fi
pulse_pid=$!
pids+=("$pulse_pid")
wait_port "$PORT_PULSE" 300
# The scoring population may still be building: retry the export.
for i in $(seq 1 60); do
    if "$PULSE_BENCH" score --addr "127.0.0.1:$PORT_PULSE" --export-features "$OUT/features.csv" \
        2>"$OUT/export.log"; then
        break
    fi
    if grep -q "Unimplemented" "$OUT/export.log"; then
        echo "pulse serve has no ScoringService yet: rerun with STUB_MODEL=1" >&2
        exit 1
    fi
    [ "$i" = 60 ] && { cat "$OUT/export.log" >&2; exit 1; }
    sleep 2
done
pulse_label=pulse
[ "$STUB_MODEL" = 1 ] && pulse_label=modelstub
case " $SERVERS " in *" pulse "*) bench "$pulse_label" "$PORT_PULSE" "$pulse_pid" ;; esac

# 2. The bare tonic stub, on the same accounts.
case " $SERVERS " in *" stub "*)
    "$PULSE_BENCH" score --stub-server "127.0.0.1:$PORT_STUB" --features "$OUT/features.csv" \
        >"$OUT/stub-server.log" 2>&1 &
    stub_pid=$!
    pids+=("$stub_pid")
    wait_port "$PORT_STUB" 60
    bench bare "$PORT_STUB" "$stub_pid"
    stop "$stub_pid"
    ;;
esac

# 3. Python grpcio with the same model.
case " $SERVERS " in *" python "*)
    if [ ! -x "$VENV/bin/python" ]; then
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install -q -r "$here/requirements.txt"
    fi
    "$VENV/bin/python" "$here/python_score_server.py" --models-dir "$DATA_DIR/models" \
        --features "$OUT/features.csv" --port "$PORT_PY" --processes "$PY_PROCESSES" \
        >"$OUT/python-server.log" 2>&1 &
    py_pid=$!
    pids+=("$py_pid")
    wait_port "$PORT_PY" 600
    sleep 0.5 # the other processes of a multi-process server
    # Same probabilities as Pulse (within 1e-9) before anything is timed.
    "$PULSE_BENCH" score --addr "127.0.0.1:$PORT_PY" --features "$OUT/features.csv" \
        --compare "127.0.0.1:$PORT_PULSE" --label python --json --duration 0 \
        | tee "$OUT/compare.txt" | grep '"bench":"score-compare"' >>"$results"
    bench python "$PORT_PY" "$py_pid"
    stop "$py_pid"
    ;;
esac
stop "$pulse_pid"

echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/machine.txt"
python3 - "$results" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
runs = [r for r in rows if r.get("bench") == "score"]
cmp = [r for r in rows if r.get("bench") == "score-compare"]
base = {(r["mode"], r["load"], r["target_rps"]): r["rps"] for r in runs if r["server"] == "bare"}
print()
print(f"{'server':<9} {'mode':<10} {'load':<12} {'rps':>9} {'vs bare':>8} {'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>9} {'srv us/req':>10}  errors")
for r in runs:
    load = "closed" if r["target_rps"] is None else f"open@{r['target_rps']:.0f}"
    b = base.get((r["mode"], r["load"], r["target_rps"]))
    # Throughput ratios mean something for closed-loop runs only.
    ratio = f"{r['rps'] / b:.2f}" if b and r["server"] != "bare" and r["target_rps"] is None else "-"
    cpu = r.get("server_cpu_us_per_request")
    err = ", ".join(f"{k} {v}" for k, v in r["errors"].items()) or "0"
    print(f"{r['server']:<9} {r['mode']:<10} {load:<12} {r['rps']:>9.0f} {ratio:>8} {r['p50_us']/1e3:>8.3f} "
          f"{r['p99_us']/1e3:>8.3f} {r['p999_us']/1e3:>9.3f} {'-' if cpu is None else f'{cpu:.1f}':>10}  {err}")
for c in cmp:
    print(f"\npython vs pulse on {c['accounts']} accounts: max |d probability| id {c['max_diff_probability_id']:.2e}, "
          f"raw {c['max_diff_probability_raw']:.2e}; max |d contribution| {c['max_diff_contribution']:.2e}; "
          f"{'OK' if c['ok'] else 'MISMATCH'}")
EOF
echo "raw results: $results"
