"""Published reference numbers (paper Tables 1, 2 and 7) as records, read from the CSV files in `published/`.

The CSV files are the data: one row per model as printed in the paper, with the citation of every number in its
`source` column. Table 1 (FutureBench) and Table 7 (inference cost) are in percent; Table 2 (TwiFF-Bench) on the
0-5 judge scale. Published rows carry no count and no interval: the paper reports neither.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

from future_l1.reports.inputs import ReportInputError
from future_l1.reports.records import FUTUREBENCH, OVERALL, PUBLISHED, TWIFFBENCH, Record

PAPER_HARDWARE = "NVIDIA H200 (paper)"  # Table 7's latencies; batch size not stated

_FUTUREBENCH_COLUMNS = {"hop1": "hop1", "hop2": "hop2", "hop3": "hop3", "interp": "interp", "avg": OVERALL}


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("future_l1.reports").joinpath("published", name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def _label(row: dict[str, str]) -> str:
    return f"{row['model']} ({row['size']})" if row["size"] else row["model"]


def _meta(row: dict[str, str], *keys: str) -> dict[str, str]:
    return {k: row[k] for k in keys if row.get(k)}


def futurebench_records() -> list[Record]:
    """Paper Table 1: accuracy (%) per split and AVG (micro accuracy) for every model, in the paper's row order."""
    out = []
    for row in _rows("futurebench.csv"):
        for column, split in _FUTUREBENCH_COLUMNS.items():
            out.append(
                Record(
                    benchmark=FUTUREBENCH,
                    model=_label(row),
                    task=FUTUREBENCH,
                    split=split,
                    metric="acc",
                    value=float(row[column]),
                    source=PUBLISHED,
                    origin=row["source"],
                    meta=_meta(row, "method", "note"),
                )
            )
    return out


def twiffbench_records() -> list[Record]:
    """Paper Table 2: CoT, Answer and Avg judge scores (0-5) for every model, in the paper's row order."""
    out = []
    for row in _rows("twiffbench.csv"):
        for metric in ("cot", "answer", "avg"):
            out.append(
                Record(
                    benchmark=TWIFFBENCH,
                    model=_label(row),
                    task=TWIFFBENCH,
                    split=OVERALL,
                    metric=metric,
                    value=float(row[metric]),
                    source=PUBLISHED,
                    origin=row["source"],
                    meta=_meta(row, "group", "note"),
                )
            )
    return out


def published_records() -> list[Record]:
    return futurebench_records() + twiffbench_records()


def select_published(records: Sequence[Record], names: Sequence[str] | None) -> list[Record]:
    """The published records of the models `names` asks for: None = all, [] = none, else every model whose label
    starts with one of the names, case-insensitively ("NEP" selects "NEP (7B)"). A name that selects nothing is
    refused with the list of names there are."""
    if names is None:
        return list(records)
    picked = []
    for name in names:
        match = [r for r in records if r.model.casefold().startswith(name.strip().casefold())]
        if not match:
            known = ", ".join(dict.fromkeys(r.model for r in records))
            raise ReportInputError(f"--published {name!r}: no published row starts with it (there are: {known})")
        picked += [r for r in match if r not in picked]
    order = {id(r): i for i, r in enumerate(records)}
    return sorted(picked, key=lambda r: order[id(r)])  # the paper's order


@dataclass(frozen=True)
class CostPoint:
    """One model on the accuracy-versus-cost plane (paper Table 7, or a measured run)."""

    model: str
    acc: float
    mean_output_tokens: float | None
    mean_latency_s: float | None
    source: str
    origin: str
    hardware: str = PAPER_HARDWARE  # where the latency was measured
    comparable: bool = True  # accuracy on the real benchmark, every document


def inference_cost_points() -> list[CostPoint]:
    """Paper Table 7 (FutureBench, H200; batch size and whether tokens include latent steps are not stated)."""
    return [
        CostPoint(
            model=_label(row),
            acc=float(row["acc"]),
            mean_output_tokens=float(row["mean_output_tokens"]),
            mean_latency_s=float(row["mean_latency_s"]),
            source=PUBLISHED,
            origin=row["source"],
        )
        for row in _rows("inference_cost.csv")
    ]
