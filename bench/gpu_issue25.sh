#!/usr/bin/env bash
# Issue 25 on the lent H200, one call: GPU tests (fast decoder parity, the real out-of-memory path), the real run
# through lmms-eval (bench/real_run.py), the decode bench with fused and unfused projections at 448x448 and at the
# real size, the prefill profile at the real size, and the end-to-end bench (real size, then 448x448).
# Run from the repo root on the device machine: `WHEELS=<dir of .whl files> bash bench/gpu_issue25.sh`; STAGES picks
# stages (default: all, in this order), REAL_ARGS adds bench/real_run.py arguments.
# Stages share one deadline (DEADLINE_S, default 560 s) and are ordered by importance; each writes JSON and a log to
# /tmp/res, packed into $OUT/results.tgz after every stage (the device tool returns at most 8 files).
set -uo pipefail
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
DEFAULT_STAGES="gpu_tests real_run decode_448 decode_864 prefill_864 e2e_864 e2e_448" DEFAULT_DEADLINE_S=560
source "$(dirname "$0")/gpu_setup.sh"
{ nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.mem --format=csv
  python3 -c "import torch, transformers, lmms_eval, decord, cv2; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'transformers', transformers.__version__, 'lmms_eval ok, decord', decord.__version__, 'cv2', cv2.__version__)"
  df -h /dev/shm /tmp | tail -2; nproc; } > "$R/machine.txt" 2>&1
cat "$R/machine.txt"
echo "setup done at ${SECONDS}s"

want gpu_tests && TAIL=6 stage gpu_tests 110 python3 -m pytest -q -o addopts="" -p no:cacheprovider -m gpu -rs \
  tests/model/test_model_static_decoder.py tests/model/test_model_gpu.py tests/model/test_model_continuous_memory.py
want real_run && TAIL=30 stage real_run 210 python3 bench/real_run.py --work /tmp/rr --out "$R" ${REAL_ARGS:-}
want decode_448 && stage decode_448 80 python3 bench/decode.py --out "$R/d448" --skip-reference --big 0 \
  --variants compiled-matmul,compiled-matmul-unfused --budget-s 60
want decode_864 && stage decode_864 90 python3 bench/decode.py --out "$R/d864" --frames 32 --size 864 --skip-reference --big 0 \
  --variants compiled-matmul,compiled-matmul-unfused --budget-s 70
want prefill_864 && stage prefill_864 60 python3 bench/prefill.py --out "$R"
want e2e_864 && TAIL=8 stage e2e_864 110 python3 bench/e2e.py --out "$R" --size 864 --slots auto --samples 48 \
  --eager-samples 0 --compile ${E2E_ARGS:-}
want e2e_448 && TAIL=6 stage e2e_448 60 python3 bench/e2e.py --out "$R" --slots auto --samples 64 --eager-samples 0 --compile
echo "total ${SECONDS}s"
