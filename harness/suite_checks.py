"""Checks of a suite's references that need more than its schema: checkpoints (local folder, hub id, demo, a plug-in's
own identifier), data folders, judges and the arguments of our own models and of `gen_kwargs`; and the redaction of
URL credentials from the suite copies a run directory keeps (`suite.yaml`, `suite_source.json`).

Checkpoints: a `pretrained` (or `checkpoint`, `model_path`, `path`) value is

- `demo://NAME`: an embedded demo checkpoint;
- a local folder;
- a hub id (`org/name`), validated without downloading it: first in the local Hugging Face cache (its snapshot
  folder names the commit), else, when the machine may go online (`HF_HUB_OFFLINE` unset), through the hub's API
  (`huggingface_hub.model_info`, which returns the commit hash). The error says which of the two checks failed;
- for a model other than `future_l1` (a plug-in, e.g. an API model), anything else is the plug-in's own identifier
  (`pretrained: gpt-4o`), recorded as such.

The resolved commit of a hub checkpoint goes into the run identity (`checkpoint_stamps`) and into each results
file's provenance, so that a moved `main` branch starts a new run instead of reusing stale answers.
"""

from __future__ import annotations

import difflib
import inspect
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from future_l1.tasks.judge import SECRET_PARAM, public_url
from future_l1.tasks.results_schema import FUTUREBENCH, TWIFFBENCH, CheckpointProvenance, benchmark_of

DEMO_SCHEME = "demo://"
CHECKPOINT_KEYS = ("pretrained", "checkpoint", "model_path", "path")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
OUR_MODEL = "future_l1"
RUBRIC_ROLE = "rubric"  # `judge: rubric` names the embedded rubric judge without a `judges:` entry
DATA_BENCHMARKS = (FUTUREBENCH, TWIFFBENCH)  # tasks whose data folder a suite may name
MAX_LIMIT = 10_000_000  # more documents than any benchmark has: a larger `limit` is a mistake (1e21 overflowed)

# generation settings lmms-eval tasks and models read (lmms-eval's own, Hugging Face generate()'s common ones)
GEN_KWARGS = frozenset(
    {"max_new_tokens", "min_new_tokens", "temperature", "top_p", "top_k", "num_beams", "do_sample", "until",
     "repetition_penalty", "length_penalty", "no_repeat_ngram_size", "seed", "image_aspect_ratio", "max_length",
     "stop", "presence_penalty", "frequency_penalty", "use_cache"}
)  # fmt: skip


def demo_checkpoint_names() -> dict[str, str]:
    return {"future-l1-tiny": "the trained demo checkpoint", "tiny-random": "the untrained tiny model"}


@dataclass(frozen=True)
class ResolvedCheckpoint:
    """What a checkpoint value is; `problem` is None when the run can use it."""

    provenance: CheckpointProvenance
    problem: str | None = None


_hub_revisions: dict[str, str] = {}  # hub id -> commit resolved in this process (validation, then the identity)


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def hub_revision(repo_id: str) -> tuple[str | None, str | None]:
    """(commit hash, None) when `repo_id` is in the local cache or the hub answers for it; else (None, why).

    Never downloads: the cache is read with `try_to_load_from_cache`, the hub asked with `model_info`."""
    if repo_id in _hub_revisions:
        return _hub_revisions[repo_id], None
    import huggingface_hub

    try:
        cached = huggingface_hub.try_to_load_from_cache(repo_id, "config.json")
    except Exception:  # an unusable cache is the same as a missing entry
        cached = None
    if isinstance(cached, str):  # …/models--org--name/snapshots/<commit>/config.json
        revision = Path(cached).parent.name
        _hub_revisions[repo_id] = revision
        return revision, None
    cache = "not in the local Hugging Face cache"
    if hub_offline():
        return None, f"{cache}, and HF_HUB_OFFLINE=1 forbids asking the hub (unset it on a connected machine)"
    try:
        info = huggingface_hub.model_info(repo_id)
    except Exception as exc:  # not found, gated, no network: each says what failed
        text = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:300]
        return None, f"{cache}, and the hub check failed ({text})"
    revision = getattr(info, "sha", None)
    if not revision:
        return None, f"{cache}, and the hub returned no commit for it"
    _hub_revisions[repo_id] = revision
    return revision, None


def resolve_checkpoint_ref(label: str, model: str, key: str, value: str) -> ResolvedCheckpoint:
    """What `value` (a checkpoint argument of model entry `label`) names, with the problem when it names nothing."""
    if value.startswith(DEMO_SCHEME):
        known = demo_checkpoint_names()
        problem = None if value[len(DEMO_SCHEME) :] in known else (
            f"model {label!r}: unknown demo checkpoint {value!r}; known: {sorted(known)}")  # fmt: skip
        return ResolvedCheckpoint(CheckpointProvenance(source="demo", ref=value), problem)
    if Path(os.path.expanduser(value)).exists():
        return ResolvedCheckpoint(CheckpointProvenance(source="local", ref=value))
    plugin = model != OUR_MODEL
    if HUB_ID.match(value):
        if plugin and hub_offline():  # a plug-in's `org/name` may be its own identifier: only the cache is asked
            revision, why = _cached_revision(value), "not cached"
        else:
            revision, why = hub_revision(value)
        if revision:
            return ResolvedCheckpoint(CheckpointProvenance(source="hub", ref=value, revision=revision))
        if not plugin:
            return ResolvedCheckpoint(
                CheckpointProvenance(source="hub", ref=value),
                f"model {label!r}: checkpoint {key}={value!r} is not a local folder; as a hub id it is {why}",
            )
    if plugin and not _looks_like_path(value):  # an API model name or another identifier only the plug-in knows
        return ResolvedCheckpoint(CheckpointProvenance(source="plugin", ref=value))
    return ResolvedCheckpoint(
        CheckpointProvenance(source="local", ref=value),
        f"model {label!r}: checkpoint {key}={value!r} does not exist (a local folder, a hub id org/name, or demo://…)",
    )


def _looks_like_path(value: str) -> bool:
    return value.startswith(("/", "./", "../", "~")) or "\\" in value


def _cached_revision(repo_id: str) -> str | None:
    import huggingface_hub

    try:
        cached = huggingface_hub.try_to_load_from_cache(repo_id, "config.json")
    except Exception:
        return None
    return Path(cached).parent.name if isinstance(cached, str) else None


def checkpoint_provenance(model_name: str, label: str, args: dict[str, Any]) -> CheckpointProvenance:
    """The first checkpoint argument's provenance (source "none" without one)."""
    for key in CHECKPOINT_KEYS:
        value = args.get(key)
        if isinstance(value, str):
            return resolve_checkpoint_ref(label, model_name, key, value).provenance
    return CheckpointProvenance(source="none")


def checkpoint_stamps(model_name: str, label: str, args: dict[str, Any]) -> dict[str, str]:
    """A model's checkpoints for the run identity: a local folder's file stamps, a hub id's resolved commit."""
    from future_l1.harness.identity import file_stamp

    stamps = {}
    for key in CHECKPOINT_KEYS:
        value = args.get(key)
        if not isinstance(value, str):
            continue
        if Path(value).exists():
            stamps[key] = file_stamp(Path(value))
        elif not value.startswith(DEMO_SCHEME):
            prov = resolve_checkpoint_ref(label, model_name, key, value).provenance
            if prov.source == "hub" and prov.revision:
                stamps[key] = f"hub:{value}@{prov.revision}"
    return stamps


# ---------------------------------------------------------------------------------------------------------------
# Arguments and generation settings


def _unknown(what: str, keys: list[str], allowed: list[str]) -> list[str]:
    problems = []
    for key in keys:
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        problems.append(f"{what}: unknown key {key!r}{hint} (allowed: {', '.join(sorted(allowed))})")
    return problems


LMMS_EVAL_ARGS = ("batch_size", "device", "max_batch_size")  # passed to every model by lmms-eval


def answer_prior_problems(label: str, args: dict[str, Any]) -> list[str]:
    """Unknown `answer_prior` arguments (its constructor swallows lmms-eval's extras, so a typo was ignored)."""
    from future_l1.harness.baselines import AnswerPrior

    params = inspect.signature(AnswerPrior.__init__).parameters
    allowed = [p for p, v in params.items() if p != "self" and v.kind is not inspect.Parameter.VAR_KEYWORD]
    allowed += list(LMMS_EVAL_ARGS)
    return _unknown(f"model {label!r}: args", [k for k in args if k not in allowed], allowed)


def gen_kwargs_problems(task: str, gen_kwargs: dict[str, Any]) -> list[str]:
    return _unknown(f"task {task!r}: gen_kwargs", [k for k in gen_kwargs if k not in GEN_KWARGS], list(GEN_KWARGS))


# ---------------------------------------------------------------------------------------------------------------
# Data folders and judges


def data_folder(value: str | None, base: Path) -> Path | None:
    """A suite's `data:`/`clips:` value as an absolute folder (relative to the suite file); None for demo/unset."""
    if value is None or value.strip().lower() == "demo":
        return None
    path = Path(os.path.expanduser(value))
    return (path if path.is_absolute() else base / path).resolve()


def data_problems(task: str, data: str | None, clips: str | None, base: Path) -> list[str]:
    bench = benchmark_of(task)
    problems = []
    if (data is not None or clips is not None) and bench not in DATA_BENCHMARKS:
        problems.append(
            f"task {task!r}: `data:`/`clips:` name the folders of futurebench_* and twiffbench_* tasks only"
        )
        return problems
    if clips is not None and bench != FUTUREBENCH:
        problems.append(f"task {task!r}: `clips:` is FutureBench's clip folder; TwiFF-Bench keeps images in its shards")
    for key, value in (("data", data), ("clips", clips)):
        path = data_folder(value, base)
        if path is not None and not path.is_dir():
            problems.append(f"task {task!r}: {key} folder {value!r} does not exist ({path})")
    return problems


def sample_problems(task: str, limit: int | float | None, sample: str) -> list[str]:
    if sample != "stratified":
        return []
    if limit is None:
        return [f"task {task!r}: `sample: stratified` draws `limit` documents; give a `limit` (or drop `sample`)"]
    if benchmark_of(task) not in DATA_BENCHMARKS:
        return [f"task {task!r}: `sample: stratified` knows the splits of futurebench_* and twiffbench_* tasks only; "
                "other tasks take lmms-eval's first `limit` documents (drop `sample`)"]  # fmt: skip
    return []


def judge_problem(task: str, judge: str | None, roles: set[str], embedded_demo: bool) -> str | None:
    """TwiFF-Bench needs an explicit judge outside the embedded demo; a named role must exist (`rubric` always does)."""
    if judge is None:
        if benchmark_of(task) == TWIFFBENCH and not embedded_demo:
            return (
                f"task {task!r}: TwiFF-Bench needs a judge: name an LLM judge role (`judge: NAME` with `judges: NAME: "
                "{provider: openai, base_url: …, model: …}`), or `judge: rubric` for the embedded rubric judge, "
                "whose scores are not comparable with published LLM-judge numbers"
            )
        return None
    if judge not in roles and judge != RUBRIC_ROLE:
        return f"task {task!r}: judge role {judge!r} is not defined under `judges:` (or use `judge: rubric`)"
    return None


# ---------------------------------------------------------------------------------------------------------------
# Secrets in the suite copies of a run directory


def redact_url(text: str) -> str:
    """`text` unchanged unless it is a URL with credentials (user:token@) or a secret-looking query value."""
    if "://" not in text:
        return text
    try:
        parts = urlsplit(text.strip())
        secret_query = any(SECRET_PARAM.search(k) for k in _query_keys(parts.query))
        has_user = parts.username is not None
    except ValueError:
        return "invalid-url"
    return public_url(text.strip()) if (has_user or secret_query) else text


def _query_keys(query: str) -> list[str]:
    return [k for k, _ in parse_qsl(query, keep_blank_values=True)]


def redact_secrets(raw: Any) -> Any:
    """A copy of a parsed suite with every URL's credentials removed (for suite.yaml and suite_source.json)."""
    if isinstance(raw, dict):
        return {k: redact_secrets(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return [redact_secrets(v) for v in raw]
    return redact_url(raw) if isinstance(raw, str) else raw
