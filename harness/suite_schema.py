"""The suite schema: which models to evaluate on which tasks, with what settings (a YAML file), parsed and typed.

```yaml
name: demo
include_path: [future_l1.tasks]     # task folders; "future_l1.tasks" = the packaged tasks, others relative to the file
judges:                             # judge roles a task entry can name (schema: future_l1.tasks.judge.JudgeRole)
  rubric: {provider: offline}       # offline = the tasks package's loopback rubric judge
  gpt: {provider: openai, base_url: "http://h:8000/v1", model: judge-x, timeout_s: 60}  # key: FUTURE_L1_JUDGE_API_KEY
models:
  - label: future_l1_tiny           # unique; names results/<label>/
    model: future_l1                # any lmms-eval model name (built-in, entry point, or plug-in)
    args: {pretrained: "demo://future-l1-tiny", latent: true}
tasks:
  - name: futurebench_future_l1
    limit: 16                       # optional (int or fraction): lmms-eval's FIRST N documents, marked as a subset
    sample: stratified              # optional: `limit` takes a seeded sample across the splits instead (our benchmarks)
    seed: 0                         # optional: the sample's seed
    gen_kwargs: {max_new_tokens: 96}  # optional scalar overrides merged over the task YAML (known keys only)
    data: /data/futurebench         # optional data folder (else FUTURE_L1_FUTUREBENCH_DIR, else the demo set)
    clips: /data/clips              # optional FutureBench clip folder (else <data>/first_part_video)
  - name: twiffbench_future_l1
    judge: rubric                   # a judge role, or `rubric` (the embedded rubric judge); TwiFF-Bench needs one
settings: {chunk_size: 1}           # journal granularity: requests handed to the model per call
```
The file is parsed into typed pydantic models (`SuiteSpec` and the models below it) that refuse unknown keys with a
"did you mean" hint, wrong types, keys given twice, and secrets (an `api_key` or a value that looks like a token:
suite files are copied into the run directory). Names (suite, labels, tasks) are single path parts, so a run never
writes outside `--runs-dir`. Every problem becomes one line of a SuiteError; no bad suite ends in a traceback.
References are resolved in `suite_resolve` (`demo://`, `run://`, include paths) and checked in `suite_validate`
(tasks, plug-in models, checkpoints, judges); `harness.suite` re-exports all three.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from future_l1.harness import suite_checks as checks
from future_l1.tasks.judge import SECRET_FIELD, JudgeRole, public_url

DEFAULT_SUITE = Path(__file__).with_name("default_suite.yaml")
PACKAGED_TASKS = "future_l1.tasks"
DEMO_SCHEME = checks.DEMO_SCHEME
CHECKPOINT_KEYS = checks.CHECKPOINT_KEYS
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,99}$")  # suite names, labels, task names, run ids: one path part
SECRET_VALUE = re.compile(r"^(sk-|hf_|ghp_|gho_|github_pat_|xox[abp]-|AKIA)[A-Za-z0-9_\-]{12,}$")
MAX_SUITE_BYTES = 1 << 20


class SuiteError(ValueError):
    """A suite that cannot run; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def name_problem(what: str, value: str) -> str | None:
    """Why `value` cannot name a file or folder of the run (None when it can): no '/', no '..', no leading dot."""
    if NAME.fullmatch(value) and ".." not in value:
        return None
    return (
        f"{what} {value!r} may only use letters, digits, '_', '-', '.', '+' (at most 100, starting with a letter or "
        "digit, no '..'): it names a folder of the run"
    )


# ---------------------------------------------------------------------------------------------------------------
# The typed schema (pydantic: unknown keys are refused, with a "did you mean" hint)


def _scalar_map(value: dict[str, Any], what: str) -> dict[str, Any]:
    for key, item in value.items():
        if isinstance(item, (list, dict)) or item is None:
            raise ValueError(f"{what}.{key} must be a single value (str, number or bool), got {type(item).__name__}")
        if isinstance(item, str) and "," in item:
            raise ValueError(f"{what}.{key} may not contain ',' (lmms-eval splits its `k=v,k=v` string on commas)")
        if isinstance(item, float) and item != item:
            raise ValueError(f"{what}.{key} is NaN")
    return value


class ModelSpec(BaseModel):
    """One model entry: `label` (unique; default = model), `model` (an lmms-eval model name), `args`."""

    model_config = ConfigDict(extra="forbid")

    label: str | None = None
    model: str = Field(min_length=1)
    args: dict[str, Any] = Field(default_factory=dict)

    @field_validator("args")
    @classmethod
    def _args(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key, item in value.items():
            if SECRET_FIELD.search(key) and isinstance(item, str) and not item.strip().isdigit():
                raise ValueError(
                    f"args.{key} looks like a secret; secrets do not go in suite files (they are copied into the run "
                    "directory): export the environment variable the model reads instead"
                )
        return _scalar_map(value, "args")


class TaskSpec(BaseModel):
    """One task entry: `name`, optional `limit` (a count ≥ 1 or a fraction in (0, 1)), `gen_kwargs`, `judge` role,
    `data` (the benchmark's data folder, or `demo`) and `clips` (FutureBench's clip folder)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    limit: Any = None
    gen_kwargs: dict[str, Any] = Field(default_factory=dict)
    judge: str | None = None
    data: str | None = Field(None, min_length=1)
    clips: str | None = Field(None, min_length=1)
    sample: Literal["first", "stratified"] = "first"
    seed: int = Field(0, ge=0, le=2**32 - 1, strict=True)

    @field_validator("limit")
    @classmethod
    def _limit(cls, value: Any) -> int | float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"limit must be a count (>= 1) or a fraction in (0, 1), got {type(value).__name__}")
        if isinstance(value, float) and value.is_integer() and value >= 1:
            value = int(value)
        if isinstance(value, int) and value > checks.MAX_LIMIT:
            raise ValueError(
                f"limit {value:.3g} is larger than any benchmark ({checks.MAX_LIMIT:,} documents at most); "
                "leave `limit` out to evaluate every document"
            )
        if isinstance(value, int) and value >= 1:
            return value
        if isinstance(value, float) and 0 < value < 1:
            return value
        raise ValueError(f"limit must be a count (>= 1) or a fraction in (0, 1), got {value!r}")

    @field_validator("gen_kwargs")
    @classmethod
    def _gen(cls, value: dict[str, Any]) -> dict[str, Any]:
        tokens = value.get("max_new_tokens")
        if tokens is not None and (isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1):
            raise ValueError(f"gen_kwargs.max_new_tokens must be a whole number >= 1, got {tokens!r}")
        for key in ("temperature", "top_p"):
            x = value.get(key)
            if x is not None and (isinstance(x, bool) or not isinstance(x, (int, float)) or not 0 <= x < float("inf")):
                raise ValueError(f"gen_kwargs.{key} must be a finite number >= 0, got {x!r}")
        value = _scalar_map(value, "gen_kwargs")
        unknown = checks.gen_kwargs_problems("", value)
        if unknown:  # a typo (max_new_token) was passed on and ignored by the model
            raise ValueError(unknown[0].removeprefix("task '': gen_kwargs: "))
        return value


class SettingsSpec(BaseModel):
    """`settings:`: chunk_size = requests per journal flush; process_docs_parallel = lmms-eval scoring threads."""

    model_config = ConfigDict(extra="forbid")

    chunk_size: int = Field(1, ge=1, le=1_000_000, strict=True)
    process_docs_parallel: int = Field(4, ge=1, le=256, strict=True)


class SuiteSpec(BaseModel):
    """The whole suite file."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    include_path: list[str] = Field(default_factory=lambda: [PACKAGED_TASKS])
    judges: dict[str, JudgeRole] = Field(default_factory=dict)
    models: list[ModelSpec] = Field(min_length=1)
    tasks: list[TaskSpec] = Field(min_length=1)
    settings: SettingsSpec = Field(default_factory=SettingsSpec)

    @model_validator(mode="before")
    @classmethod
    def _shorthands(cls, data: Any) -> Any:
        """`include_path: dir` = one folder; `tasks: [name]` = entries with only a name."""
        if isinstance(data, dict):
            data = dict(data)
            if isinstance(data.get("include_path"), str):
                data["include_path"] = [data["include_path"]]
            if data.get("include_path") is None:
                data.pop("include_path", None)
            if isinstance(data.get("tasks"), list):
                data["tasks"] = [{"name": t} if isinstance(t, str) else t for t in data["tasks"]]
            for key in ("judges", "settings"):
                if data.get(key) is None:
                    data.pop(key, None)
        return data


_MODEL_AT = {(): SuiteSpec, ("models",): ModelSpec, ("tasks",): TaskSpec, ("judges",): JudgeRole,
             ("settings",): SettingsSpec}  # fmt: skip


def _where(loc: tuple) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _schema_at(loc: tuple) -> type[BaseModel] | None:
    """The schema model that holds the key at `loc` (for the list of allowed keys)."""
    head = tuple(p for p in loc[:1] if isinstance(p, str))
    return _MODEL_AT.get(head if len(loc) > 1 else ())


def validation_problems(exc: ValidationError, source: Path | None) -> list[str]:
    """pydantic's errors as one human line each, with a difflib "did you mean" hint for unknown keys.

    Input values are never echoed (a refused secret must not reach the terminal or a log)."""
    where_file = f"suite {source}" if source else "suite"
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        where = _where(loc)
        if err["type"] == "extra_forbidden":
            key = str(loc[-1])
            schema = _schema_at(loc)
            allowed = sorted(schema.model_fields) if schema else []
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            parent = _where(loc[:-1]) or "the top level"
            problems.append(
                f"{where_file}: unknown key {key!r} in {parent}{hint} (allowed: {', '.join(allowed)})"
                if not SECRET_FIELD.search(key)
                else f"{where_file}: {where}: secrets do not go in suite files; export FUTURE_L1_JUDGE_API_KEY instead"
            )
            continue
        message = str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        message = re.sub(r" or instance of \w+", "", message.replace("Input should be", "must be"))
        got = err.get("input")
        if err["type"] == "missing":
            message = "is required"
        elif err["type"] not in ("value_error", "assertion_error") and got is not None:
            message += f" (got {type(got).__name__})"
        problems.append(f"{where_file}: {where or 'top level'}: {message}")
    return problems


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last one silently)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, (str, int, float, bool)) and key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} is given twice (line {mark.line + 1})", mark
            )
        seen.add(key) if isinstance(key, (str, int, float, bool)) else None
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


@dataclass
class ModelEntry:
    label: str
    model: str
    args: dict[str, Any] = field(default_factory=dict)

    def args_string(self) -> str:
        """lmms-eval's `k=v,k=v` form (simple_evaluate rejects dicts in 0.7.3)."""
        parts = []
        for key, value in self.args.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            parts.append(f"{key}={text}")
        return ",".join(parts)


@dataclass
class TaskEntry:
    name: str
    limit: int | float | None = None
    gen_kwargs: dict[str, Any] = field(default_factory=dict)
    judge: str | None = None
    data: str | None = None
    clips: str | None = None
    sample: str = "first"  # how `limit` picks documents: lmms-eval's first N, or a seeded sample across splits
    seed: int = 0

    def gen_kwargs_string(self) -> str | None:
        if not self.gen_kwargs:
            return None
        return ",".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in self.gen_kwargs.items())


@dataclass
class Suite:
    name: str
    models: list[ModelEntry]
    tasks: list[TaskEntry]
    include_path: list[str] = field(default_factory=lambda: [PACKAGED_TASKS])
    judges: dict[str, JudgeRole] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=lambda: SettingsSpec().model_dump())
    source: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        """Hash of the validated suite (key order, comments and defaults do not matter; checkpoints unresolved).

        Only one part of a run's identity: `harness.identity` adds the data and checkpoint fingerprints."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True, default=str).encode()).hexdigest()

    def entries(self) -> list[tuple[ModelEntry, TaskEntry]]:
        return [(m, t) for m in self.models for t in self.tasks]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "include_path": list(self.include_path),
            "judges": {k: _public_role(v) for k, v in self.judges.items()},
            "models": [{"label": m.label, "model": m.model, "args": dict(m.args)} for m in self.models],
            "tasks": [
                {
                    "name": t.name,
                    "limit": t.limit,
                    "gen_kwargs": dict(t.gen_kwargs),
                    "judge": t.judge,
                    **{k: v for k, v in (("data", t.data), ("clips", t.clips)) if v is not None},
                    **({"sample": t.sample, "seed": t.seed} if (t.sample, t.seed) != ("first", 0) else {}),
                }
                for t in self.tasks
            ],
            "settings": dict(self.settings),
        }


def _public_role(role: JudgeRole) -> dict[str, Any]:
    """A judge role as written into suite.yaml and the identity: URL credentials removed."""
    data = role.model_dump(exclude_none=True)
    if data.get("base_url"):
        data["base_url"] = public_url(data["base_url"])
    return data


def _secret_values(raw: Any, path: str = "") -> list[str]:
    """Where a value that looks like an API token (sk-…, hf_…, ghp_…) is written in the suite."""
    found = []
    if isinstance(raw, dict):
        for key, value in raw.items():
            found += _secret_values(value, f"{path}.{key}" if path else str(key))
    elif isinstance(raw, list):
        for i, value in enumerate(raw):
            found += _secret_values(value, f"{path}[{i}]")
    elif isinstance(raw, str) and SECRET_VALUE.match(raw.strip()):
        found.append(path)
    return found


def load_suite(path: str | Path | None = None) -> Suite:
    """Parse a suite file (the embedded default when `path` is None); every problem raises SuiteError (one line each)."""
    source = Path(path) if path else DEFAULT_SUITE
    try:
        if not source.exists():
            raise SuiteError([f"suite file {source} does not exist; pass a suite YAML file (or none for the demo)"])
        if source.is_dir():
            raise SuiteError([f"suite {source} is a directory; pass a suite YAML file"])
        if source.stat().st_size > MAX_SUITE_BYTES:
            raise SuiteError([f"suite {source} is larger than 1 MiB; a suite lists models and tasks, not data"])
        data = source.read_bytes()
    except OSError as exc:
        problem = f"suite {source} cannot be read ({exc.strerror or exc}); check the path and permissions"
        raise SuiteError([problem]) from None
    if b"\x00" in data:
        raise SuiteError([f"suite {source} is a binary file, not YAML; pass a suite YAML file"])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SuiteError([f"suite {source} is not UTF-8 text; save it as UTF-8 YAML"]) from None
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SuiteError([f"suite {source}: YAML syntax error{at}: {problem}; fix the file"]) from None
    if _too_big(raw):
        raise SuiteError(
            [f"suite {source} expands to more than {MAX_SUITE_VALUES} values (YAML aliases?); simplify it"]
        )
    return parse_suite({} if raw is None else raw, source)


MAX_SUITE_VALUES = 100_000


def _too_big(raw: Any) -> bool:
    """True when the parsed YAML holds more values than any real suite, counting every alias use (an alias "bomb"
    of a few lines expands to billions of values and would hang validation)."""
    budget = MAX_SUITE_VALUES
    stack = [raw]
    while stack:
        budget -= 1
        if budget < 0:
            return True
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _default_name(source: Path | None) -> str:
    """The file's stem made into one safe path part (the name is optional in a suite file)."""
    if source is None:
        return "suite"
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", source.stem).replace("..", "_").lstrip("._-+")[:100] or "suite"


def _unique_names(kind: str, names: list[str], twice: str) -> list[str]:
    """A problem for each invalid name (`name_problem`) and each repeat (`twice`, formatted with the name)."""
    problems, seen = [], set()
    for name in names:
        problem = name_problem(kind, name)
        if problem:
            problems.append(problem)
        elif name in seen:
            problems.append(twice.format(name))
        seen.add(name)
    return problems


def _name_problems(raw: dict[str, Any], source: Path | None) -> list[str]:
    """Names that become folders of the run (suite name, labels, task names): valid and unique. Lenient about
    shapes, which the schema reports."""
    labels = [
        m.get("label") if isinstance(m.get("label"), str) else m["model"]
        for m in (raw.get("models") if isinstance(raw.get("models"), list) else [])
        if isinstance(m, dict) and isinstance(m.get("model"), str)
    ]
    tasks = [
        t if isinstance(t, str) else t.get("name") if isinstance(t, dict) else None
        for t in (raw.get("tasks") if isinstance(raw.get("tasks"), list) else [])
    ]
    problems = _unique_names(
        "model label", labels, "model {!r}: label used twice; give each model entry a unique `label`"
    )
    problems += _unique_names(
        "task", [t for t in tasks if isinstance(t, str) and t], "task {!r}: listed twice; list each task once"
    )
    name = raw.get("name")
    if name is not None:
        problem = name_problem("suite name", name) if isinstance(name, str) else "suite name must be text"
        if problem:
            problems.append(f"suite {source}: {problem}" if source else problem)
    return problems


def parse_suite(raw: Any, source: Path | None = None) -> Suite:
    """Validate a parsed suite into a `Suite`; every problem (all at once, one line each) raises SuiteError."""
    where = f"suite {source}" if source else "suite"
    if not isinstance(raw, dict):
        raise SuiteError(
            [f"{where}: the top level must be a mapping (name:, models:, tasks: …), got {type(raw).__name__}"]
        )
    secrets = _secret_values(raw)
    if secrets:
        raise SuiteError(
            [
                f"{where}: {p} looks like an API token; secrets do not go in suite files (export it instead)"
                for p in secrets
            ]
        )
    problems: list[str] = []
    try:
        spec = SuiteSpec.model_validate(raw)
    except ValidationError as exc:
        spec = None
        problems += validation_problems(exc, source)
    problems += _name_problems(raw, source)  # also when the schema failed: every problem at once
    if problems or spec is None:
        raise SuiteError(problems)
    models = [ModelEntry(label=m.label or m.model, model=m.model, args=dict(m.args)) for m in spec.models]
    tasks = [
        TaskEntry(
            name=t.name,
            limit=t.limit,
            gen_kwargs=dict(t.gen_kwargs),
            judge=t.judge,
            data=t.data,
            clips=t.clips,
            sample=t.sample,
            seed=t.seed,
        )
        for t in spec.tasks
    ]
    name = spec.name if spec.name is not None else _default_name(source)
    return Suite(
        name=name,
        models=models,
        tasks=tasks,
        include_path=list(spec.include_path),
        judges=dict(spec.judges),
        settings=spec.settings.model_dump(),
        source=source,
        raw=_redacted(raw),  # copied into the run directory (suite_source.json)
    )


def _redacted(raw: Any) -> Any:
    return checks.redact_secrets(raw)
