# Sourced by the bench/gpu_*.sh drivers on the device machine, from the repo root, after they set DEFAULT_STAGES and
# DEFAULT_DEADLINE_S: stage bookkeeping under one deadline, results packed into $OUT/results.tgz after every stage
# (the device tool returns at most 8 files), the carried wheels, and future_l1 from this checkout without installing
# it (a package folder whose subpackages are the checkout's folders, plus a dist-info with our entry points so that
# lmms-eval finds the model). CACHE_SEED: an optional tarball of FUTURE_L1_CACHE entries (the converted tokenizer).
OUT=${OUT:-/tmp/out}; R=/tmp/res; WHEELS=${WHEELS:-.whl}; DEADLINE=${DEADLINE_S:-$DEFAULT_DEADLINE_S}
mkdir -p "$OUT" "$R"
pack() { tar -czf "$OUT/results.tgz" -C "$R" . 2>/dev/null; }
trap pack EXIT
left() { echo $(( DEADLINE - SECONDS )); }
STAGES=" ${STAGES:-$DEFAULT_STAGES} "
want() { [[ "$STAGES" == *" $1 "* ]]; }
stage() {  # stage NAME MAX_S COMMAND...: run with a timeout of min(MAX_S, time left - 5); log to $R/NAME.log
  local name=$1 max=$2; shift 2
  local limit=$(( $(left) - 5 )); (( limit > max )) && limit=$max
  if (( limit < 20 )); then echo "skip $name: ${limit}s left" | tee -a "$R/stages.txt"; return; fi
  local t0=$SECONDS
  timeout "$limit" "$@" > "$R/$name.log" 2>&1; local rc=$?
  echo "$name rc=$rc ${limit}s-limit $(( SECONDS - t0 ))s (at ${SECONDS}s)" | tee -a "$R/stages.txt"
  grep -v -E "Warning|warn\(|warnings.warn|output = func|_warn_once|it/s\]|s/it\]" "$R/$name.log" | tail -${TAIL:-12}
  pack
}

python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site "$WHEELS"/*.whl \
  > "$R/install.log" 2>&1 || { echo "wheel install failed"; tail -5 "$R/install.log"; }
mkdir -p /tmp/fl1/future_l1 /tmp/fl1/future_l1-0.1.0.dist-info && touch /tmp/fl1/future_l1/__init__.py
for d in harness model tasks training reports; do ln -sfn "$PWD/$d" /tmp/fl1/future_l1/$d; done
printf 'Metadata-Version: 2.1\nName: future-l1\nVersion: 0.1.0\n' > /tmp/fl1/future_l1-0.1.0.dist-info/METADATA
python3 - > /tmp/fl1/future_l1-0.1.0.dist-info/entry_points.txt <<'PY'
import tomllib
eps = tomllib.load(open("pyproject.toml", "rb"))["project"]["entry-points"]
for group, items in eps.items():
    print(f"[{group}]")
    print("\n".join(f"{k} = {v}" for k, v in items.items()))
PY
export PYTHONPATH=/tmp/fl1:/tmp/site${PYTHONPATH:+:$PYTHONPATH}
export FUTURE_L1_CACHE=${FUTURE_L1_CACHE:-/tmp/fl1cache}; mkdir -p "$FUTURE_L1_CACHE"
[[ -n "${CACHE_SEED:-}" && -f "$CACHE_SEED" ]] && tar -xzf "$CACHE_SEED" -C "$FUTURE_L1_CACHE"
