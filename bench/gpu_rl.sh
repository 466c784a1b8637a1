#!/usr/bin/env bash
# Issue 27 on the lent H200, one call: the GPU tests of LA-DAPO on the fast decoder (fp32 parity before and after an
# optimiser step, the session freed) and of the fast decoder itself, then bench/rl_smoke.py at the 2B and the 8B
# shape with every rollout engine in one process each (fast-compile, fast, eager: before and after in one run).
# Run from the repo root on the device machine: `WHEELS=<dir of .whl files> bash bench/gpu_rl.sh` (wheels: trl
# 1.16.0 and datasets 5.2.0 with its small dependencies, as for gpu_issue25.sh: the /work/main/.whl folder).
# STAGES picks stages (default: all, in this order); ENGINES_2B / ENGINES_8B pick the engines; RL_ARGS adds
# bench/rl_smoke.py arguments. Stages share one deadline (DEADLINE_S, default 570 s); each writes JSON and a log to
# /tmp/res, packed into $OUT/results.tgz after every stage (unpack it into bench/results/issue27/).
set -uo pipefail
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false TRL_EXPERIMENTAL_SILENCE=1
OUT=${OUT:-/tmp/out}; R=/tmp/res; WHEELS=${WHEELS:-.whl}; DEADLINE=${DEADLINE_S:-570}
mkdir -p "$OUT" "$R"
pack() { tar -czf "$OUT/results.tgz" -C "$R" . 2>/dev/null; }
trap pack EXIT
left() { echo $(( DEADLINE - SECONDS )); }
STAGES=" ${STAGES:-gpu_tests rl_2b rl_8b} "
want() { [[ "$STAGES" == *" $1 "* ]]; }
stage() {  # stage NAME MAX_S COMMAND...: run with a timeout of min(MAX_S, time left - 5); log to $R/NAME.log
  local name=$1 max=$2; shift 2
  local limit=$(( $(left) - 5 )); (( limit > max )) && limit=$max
  if (( limit < 20 )); then echo "skip $name: ${limit}s left" | tee -a "$R/stages.txt"; return; fi
  local t0=$SECONDS
  timeout "$limit" "$@" > "$R/$name.log" 2>&1; local rc=$?
  echo "$name rc=$rc ${limit}s-limit $(( SECONDS - t0 ))s (at ${SECONDS}s)" | tee -a "$R/stages.txt"
  grep -v -E "Warning|warn\(|warnings.warn|_warn_once|it/s\]|s/it\]" "$R/$name.log" | tail -${TAIL:-12}
  pack
}

# packages the machine lacks (wheels), and future_l1 from this checkout without installing it
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site "$WHEELS"/*.whl \
  > "$R/install.log" 2>&1 || { echo "wheel install failed"; tail -5 "$R/install.log"; }
mkdir -p /tmp/fl1/future_l1 /tmp/fl1/future_l1-0.1.0.dist-info && touch /tmp/fl1/future_l1/__init__.py
for d in harness model tasks training reports; do ln -sfn "$PWD/$d" /tmp/fl1/future_l1/$d; done
printf 'Metadata-Version: 2.1\nName: future-l1\nVersion: 0.1.0\n' > /tmp/fl1/future_l1-0.1.0.dist-info/METADATA
export PYTHONPATH=/tmp/fl1:/tmp/site${PYTHONPATH:+:$PYTHONPATH}
export FUTURE_L1_CACHE=${FUTURE_L1_CACHE:-/tmp/fl1cache}; mkdir -p "$FUTURE_L1_CACHE"
[[ -n "${CACHE_SEED:-}" && -f "$CACHE_SEED" ]] && tar -xzf "$CACHE_SEED" -C "$FUTURE_L1_CACHE"
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
