#!/usr/bin/env bash
# Issue 27 on the lent H200, one call: the GPU tests of LA-DAPO on the fast decoder (fp32 parity before and after an
# optimiser step, the session freed) and of the fast decoder itself, then bench/rl_smoke.py at the 2B and the 8B
# shape with every rollout engine in one process each (fast-compile, fast, eager: before and after in one run).
# Run from the repo root on the device machine: `WHEELS=<dir of .whl files> bash bench/gpu_rl.sh` (wheels: trl
# 1.16.0 and datasets 5.2.0 with its small dependencies, as for gpu_issue25.sh: the repo's .whl folder, carried).
# STAGES picks stages (default: all, in this order); ENGINES_2B / ENGINES_8B pick the engines; RL_ARGS adds
# bench/rl_smoke.py arguments. Stages share one deadline (DEADLINE_S, default 570 s); each writes JSON and a log to
# $R (gpu_setup.sh), packed into $OUT/results.tgz after every stage (unpack it into bench/results/issue27/).
set -uo pipefail
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false TRL_EXPERIMENTAL_SILENCE=1
DEFAULT_STAGES="gpu_tests rl_2b rl_8b" DEFAULT_DEADLINE_S=570
source "$(dirname "$0")/gpu_setup.sh"
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 -c "import torch, transformers, trl, accelerate; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'transformers', transformers.__version__, 'trl', trl.__version__, 'accelerate', accelerate.__version__)"
  nproc; } > "$R/machine.txt" 2>&1
cat "$R/machine.txt"
echo "setup done at ${SECONDS}s"

# the demo checkpoint the parity test starts from is built on first use (about a minute of SFT, on the GPU here)
# GPU_TESTS: the gpu-marked tests to run (default: RL fast-rollout parity, the interventions' fast-vs-eager check, the
# fast decoder's GPU tests)
want gpu_tests && TAIL=8 stage gpu_tests ${GPU_TESTS_S:-240} python3 -m pytest -q -o addopts="" -p no:cacheprovider -m gpu -rs -s \
  ${GPU_TESTS:-tests/training/test_rl_fast_rollout_gpu.py tests/model/test_interventions_gpu.py tests/model/test_model_gpu.py tests/model/test_model_static_decoder.py}
want rl_2b && TAIL=14 stage rl_2b 190 python3 bench/rl_smoke.py --shape 2b --rollout "${ENGINES_2B:-fast-compile,fast,eager}" \
  --out "$R/rl_smoke_2b.json" ${RL_ARGS:-}
want rl_8b && TAIL=14 stage rl_8b 240 python3 bench/rl_smoke.py --shape 8b --rollout "${ENGINES_8B:-fast-compile,eager}" \
  --out "$R/rl_smoke_8b.json" ${RL_ARGS:-}
echo "total ${SECONDS}s"
