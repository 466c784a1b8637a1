#!/usr/bin/env bash
# Issue 27 on the lent GPU, one call: the rollout's decode step profiled with its variants
# (bench/decode_rollout_profile.py), bench/rl_smoke.py at the 2B shape with the fast engine before and after the
# sampler change (and with fused copies), then the GPU tests of the new sampler and the RL fp32 parity.
# Run from the repo root on the device machine: `WHEELS=.whl CACHE_SEED=.wt/seed.tgz bash bench/gpu_issue27_decode.sh`
# (carry .whl and .wt/seed.tgz, as for gpu_rl.sh). STAGES picks stages (default: all, in this order); results go to
# $R and are packed into $OUT/results.tgz after every stage (unpack into bench/results/issue27/<run>/).
set -uo pipefail
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false TRL_EXPERIMENTAL_SILENCE=1
DEFAULT_STAGES="profile rl_2b gpu_tests" DEFAULT_DEADLINE_S=580
source "$(dirname "$0")/gpu_setup.sh"
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 -c "import torch, transformers, trl; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'transformers', transformers.__version__, 'trl', trl.__version__)"
  nproc; } > "$R/machine.txt" 2>&1
cat "$R/machine.txt"
echo "setup done at ${SECONDS}s"
want profile && TAIL=30 stage profile ${PROFILE_S:-260} python3 bench/decode_rollout_profile.py --out "$R" ${PROFILE_ARGS:-}
want rl_2b && TAIL=14 stage rl_2b ${RL_S:-220} python3 bench/decode_rollout_profile.py --rl-smoke -- --shape 2b \
  --rollout "${ENGINES_2B:-fast-compile-before,fast-compile,fast-compile-fusedcopy,fast-compile-fusedcopy-sdpa}" --out "$R/rl_smoke_2b.json" ${RL_ARGS:-}
want gpu_tests && TAIL=12 stage gpu_tests ${GPU_TESTS_S:-150} python3 -m pytest -q -o addopts="" -p no:cacheprovider -m gpu -rs \
  ${GPU_TESTS:-tests/model/test_model_top_p.py tests/training/test_rl_fast_rollout_gpu.py}
echo "total ${SECONDS}s"
