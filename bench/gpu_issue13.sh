#!/usr/bin/env bash
# Issue 13 on the lent H200, one call: GPU tests of the fast decoder, the decode bench and the end-to-end bench.
# Run from the repo root on the device machine (the device tool): `bash bench/gpu_issue13.sh`, with `.whl` carried
# (pytest wheels, used only when the machine lacks pytest). Everything lands in $OUT (logs and JSON). Stages share a
# 575 s budget so that the call ends inside the device tool's 600 s limit.
set -uo pipefail
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
python3 -c "import pytest" 2>/dev/null || {
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}; }
# future_l1 without installing: a package folder whose subpackages are this checkout's folders
mkdir -p /tmp/fl1/future_l1 && touch /tmp/fl1/future_l1/__init__.py
for d in harness model tasks training reports; do ln -sfn "$PWD/$d" /tmp/fl1/future_l1/$d; done
export PYTHONPATH=/tmp/fl1${PYTHONPATH:+:$PYTHONPATH}
nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.mem --format=csv | tee "$OUT/machine.txt"
python3 -c "import torch, transformers; print(torch.__version__, torch.version.cuda, transformers.__version__)" \
  | tee -a "$OUT/machine.txt"
timeout ${TEST_S:-170} python3 -m pytest -q -o addopts="" -p no:cacheprovider -m gpu -rs \
  tests/model/test_model_static_decoder.py tests/model/test_model_gpu.py 2>&1 | tail -40 | tee "$OUT/gpu_tests.log"
echo "tests: $SECONDS s"
DECODE_S=$(( 575 - SECONDS - ${E2E_MIN_S:-150} )); (( DECODE_S > 330 )) && DECODE_S=330
timeout $DECODE_S python3 bench/decode.py --out "$OUT" --budget-s $(( DECODE_S - 70 )) ${DECODE_ARGS:-} \
  2>&1 | grep -v -E "Warning|warn\(|output = func|_warn_once" | tee "$OUT/decode_bench.log" | tail -24
echo "decode bench done at $SECONDS s (limit $DECODE_S)"
# the e2e bench uses the attention form that was fastest at batch 8
E2E_ARGS=${E2E_ARGS:-$(python3 - "$OUT/decode_bench.json" <<'PY'
import json, sys
try:
    rows = json.load(open(sys.argv[1]))["rows"]
    fast = [r for r in rows if r["method"].startswith("FastLatent") and r["batch"] == 8 and r.get("decode_steps")]
    best = max(fast, key=lambda r: r["row_steps_per_s"])["method"]
    attn = next((a for a in ("flex", "reduce", "sdpa") if a in best.lower()), "matmul")
    print(f"--attn {attn}" + (" --compile" if "compiled" in best else ""))
except Exception:
    print("--attn matmul")
PY
)}
echo "e2e args: $E2E_ARGS"
timeout $(( 580 - SECONDS )) python3 bench/e2e.py --out "$OUT" $E2E_ARGS 2>&1 \
  | grep -v -E "Warning|warn\(|output = func|_warn_once" | tee "$OUT/e2e_bench.log" | tail -8
echo "total $SECONDS s"
