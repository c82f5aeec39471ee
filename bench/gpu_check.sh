#!/usr/bin/env bash
# The GPU path, checked in one run: builds the tiny `full` checkpoints (tests/tiny_pipelines.py),
# then on the GPU and on the CPU of the same machine runs the `full` paths' ML
# (bench/_gpu_check.py), the app's `full` path tests and the tiny benchmarks' --quick modes,
# and prints every figure with its GPU and CPU values side by side. Without CUDA it runs the
# CPU side alone and says so.
#
#   bench/gpu_check.sh                         # PYTHON=python3 to use another interpreter
#   GPU_CHECK_BUDGET_S=540 BENCH_THREADS=1 bench/gpu_check.sh
#
# Steps run in order of importance and each has a time limit; once GPU_CHECK_BUDGET_S
# (default 540 s) is spent the rest are listed as skipped, so the run stays under 10 minutes.
# The benchmarks that place no model on the device (gate, scoring, image_rl, pruning) run
# once, on the CPU, and are marked so. BENCH_THREADS sets torch's CPU threads where the
# benchmarks read it. Exit status: 0 when every step that ran passed.
set -uo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
BUDGET=${GPU_CHECK_BUDGET_S:-540}
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")
RESULTS="$WORK/results.jsonl"
START=$SECONDS
FAILED=0
: >"$RESULTS"

CUDA=$("$PY" -c 'import torch; print(torch.cuda.is_available())' 2>/dev/null || echo error)
if [ "$CUDA" = True ]; then
    DEVICES="gpu cpu"
    echo "CUDA: $("$PY" -c 'import torch; print(torch.cuda.get_device_name(0))')"
else
    DEVICES="cpu"
    echo "CUDA: not available ($CUDA): running the CPU side only; no GPU figures in this run"
fi
echo "python: $PY; work folder: $WORK; budget ${BUDGET}s"

# step NAME DEVICE LIMIT_S CMD...: run CMD for DEVICE (cpu hides the GPU), keep its log and
# its last JSON line as the step's figures.
step() {
    local name=$1 device=$2 limit=$3
    shift 3
    local log="$WORK/$name.$device.log" left=$((BUDGET - (SECONDS - START)))
    if [ "$left" -lt 20 ]; then
        echo "  $name ($device): skipped, the time budget is spent"
        printf '{"name": "%s", "device": "%s", "figures": {"status": "skipped"}}\n' \
            "$name" "$device" >>"$RESULTS"
        return
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    local hide=()
    [ "$device" = cpu ] && hide=(env CUDA_VISIBLE_DEVICES=)
    local t0=$SECONDS rc=0
    "${hide[@]}" timeout "$limit" "$@" >"$log" 2>&1 || rc=$?
    local secs=$((SECONDS - t0))
    [ "$rc" -ne 0 ] && FAILED=1
    echo "  $name ($device): exit $rc in ${secs}s (log $log)"
    "$PY" - "$log" "$name" "$device" "$rc" "$secs" >>"$RESULTS" <<'EOF'
import json, re, sys
log, name, device, rc, secs = sys.argv[1:]
figures = {}
lines = open(log, errors="replace").read().splitlines()
for line in reversed(lines):
    if line.startswith("{"):
        try:
            figures = json.loads(line)
            break
        except ValueError:
            pass
for line in reversed(lines):  # pytest's summary line
    if re.search(r"\d+ (passed|failed)", line):
        for n, what in re.findall(r"(\d+) (passed|failed|error|skipped)", line):
            figures[what] = int(n)
        break
flat = {k: v for k, v in figures.items() if not isinstance(v, dict | list)}
flat.update({"step_exit": int(rc), "step_s": int(secs)})
print(json.dumps({"name": name, "device": device, "figures": flat}))
EOF
}

echo "building the tiny checkpoints"
step build cpu 120 "$PY" -m tests.tiny_pipelines "$WORK/models"
MODELS="$WORK/models"

for device in $DEVICES; do
    torch_device=cpu
    [ "$device" = gpu ] && torch_device=cuda
    step full_paths_ml "$device" 300 "$PY" bench/_gpu_check.py --models "$MODELS" \
        --device "$torch_device"
done
for device in $DEVICES; do
    step full_path_tests "$device" 240 env DATABASE_URL= REDIS_URL= \
        JDREVIEW_VAR_DIR="$WORK/var-$device" "$PY" -m pytest -p no:cacheprovider -q \
        tests/test_full_paths.py tests/test_imagegen_jobs.py -k "full or qwen2 or loader"
done
for device in $DEVICES; do
    step query_expansion "$device" 240 "$PY" bench/query_expansion.py --quick
    step agent_eval "$device" 240 "$PY" bench/agent_eval.py --quick
done
# These place their models on the CPU whatever the machine has: one run, marked cpu.
step image_rl cpu 240 "$PY" bench/image_rl.py --quick
step pruning cpu 240 "$PY" bench/pruning.py --quick
step gate cpu 240 "$PY" bench/gate.py --quick --cache-dir "$WORK/bench_gate"
step scoring cpu 120 "$PY" bench/scoring.py --images 300 --cache-dir "$WORK/bench_gate"

echo
"$PY" bench/_gpu_check.py --table "$RESULTS"
echo "(image_rl, pruning, gate and scoring place their models on the CPU on any machine:"
echo " one run each, in the cpu column)"
echo "total $((SECONDS - START))s; results $RESULTS"
[ "$CUDA" = True ] || echo "no GPU in this run: every figure above is the CPU's"
exit $FAILED
