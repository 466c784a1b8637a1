"""Suite sweeps over latent interventions (issue 29): one model entry with `interventions: [...]` becomes one row
per intervention, each a labelled model of the leaderboard.

    models:
      - label: future_l1_tiny
        model: future_l1
        args: {pretrained: demo://tiny}
        interventions: [none, zero, shuffle, "budget:0", "budget:8"]

gives the rows `future_l1_tiny` (none: the unperturbed row keeps the entry's label, so reports pair the others with
it), `future_l1_tiny+zero`, `future_l1_tiny+shuffle`, `future_l1_tiny+budget-0` and `future_l1_tiny+budget-8`, each
with `latent_intervention=<spec>` in its args (so in the run identity and in results.json's model_args); a
`save_latents` folder gets the same suffix per row (`run://latents/x+zero`), so rows do not overwrite each other.
"""

from __future__ import annotations

from typing import Any

from future_l1.model.interventions import InterventionError, InterventionSpec

KEY = "interventions"
ARG = "latent_intervention"


def row_label(base: str, spec: str | InterventionSpec) -> str:
    """`base+zero`, `base+budget-8`, `base+noise-0.5`; `base` itself for none."""
    spec = InterventionSpec.parse(spec)
    return base if spec.kind == "none" else f"{base}+{str(spec).replace(':', '-')}"


def intervention_of(args: dict[str, Any] | str | None) -> str:
    """The canonical intervention of a row from its args (a dict, or lmms-eval's `k=v,k=v` string); none if absent."""
    if isinstance(args, str):
        pairs = dict(p.split("=", 1) for p in args.split(",") if "=" in p)
        value = pairs.get(ARG)
    else:
        value = (args or {}).get(ARG)
    try:
        return str(InterventionSpec.parse(None if value is None else str(value)))
    except InterventionError:
        return str(value)


def expand_models(raw: Any) -> tuple[Any, list[str]]:
    """A parsed suite with every `interventions:` model entry expanded into rows, and the problems found (one line
    each). Anything that is not a suite mapping with a list of models is returned as is (validation reports it)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("models"), list):
        return raw, []
    if not any(isinstance(m, dict) and KEY in m for m in raw["models"]):
        return raw, []
    problems: list[str] = []
    models: list[Any] = []
    for entry in raw["models"]:
        if not isinstance(entry, dict) or KEY not in entry:
            models.append(entry)
            continue
        entry = dict(entry)
        sweep = entry.pop(KEY)
        base = entry.get("label") or entry.get("model") or "?"
        if isinstance(sweep, str):
            sweep = [sweep]
        if not isinstance(sweep, list) or not sweep:
            problems.append(f"model {base!r}: interventions must be a non-empty list such as [none, zero, shuffle]")
            continue
        args = entry.get("args") if isinstance(entry.get("args"), dict) else {}
        if ARG in args:
            problems.append(f"model {base!r}: give the intervention either in args.{ARG} or in interventions, not both")
            continue
        seen: set[str] = set()
        for item in sweep:
            try:
                spec = InterventionSpec.parse(str(item))
            except InterventionError as exc:
                problems.append(f"model {base!r}: interventions entry {item!r}: {exc}")
                continue
            if str(spec) in seen:
                problems.append(f"model {base!r}: intervention {str(spec)!r} listed twice")
                continue
            seen.add(str(spec))
            row = dict(entry, label=row_label(base, spec))
            row["args"] = dict(args) if spec.kind == "none" else {**args, ARG: str(spec)}
            if spec.kind != "none" and isinstance(args.get("save_latents"), str):  # one latents folder per row
                row["args"]["save_latents"] = row_label(args["save_latents"].rstrip("/"), spec)
            models.append(row)
    return {**raw, "models": models}, problems
