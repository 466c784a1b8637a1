"""Reports: golden tables, published numbers, readers, paired comparison, plots, HTML in headless Chromium.

Regenerate goldens after an intended format change: `UPDATE_GOLDEN=1 python -m pytest tests/reports -q`.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from future_l1.harness.cli import main as cli_main
from future_l1.reports import render_run
from future_l1.reports.compare import compare_paths
from future_l1.reports.leaderboard import build_leaderboards
from future_l1.reports.published import futurebench_records, inference_cost_points, twiffbench_records
from future_l1.reports.readers import ReportInputError, read_results
from future_l1.reports.records import MEASURED, PUBLISHED
from future_l1.reports.render import FORMATS, write_report
from future_l1.reports.stats import bootstrap_ci, mcnemar_p

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
GOLDEN = HERE / "golden"
RUNS = ["run_a", "run_b", "run_c", "lmms_plain"]


@pytest.fixture()
def in_fixtures(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from the fixtures folder so run origins are the relative names the goldens hold."""
    monkeypatch.chdir(FIXTURES)
    return FIXTURES


def test_fixtures_are_current(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("make_fixtures", HERE / "make_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path)
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert made == sorted(p.relative_to(FIXTURES) for p in FIXTURES.rglob("*") if p.is_file())
    for rel in made:
        assert (tmp_path / rel).read_bytes() == (FIXTURES / rel).read_bytes(), f"re-run make_fixtures.py ({rel})"


# ------------------------------------------------------------------ golden outputs


@pytest.mark.parametrize(
    "name",
    [
        "leaderboard.md",
        "records.csv",
        "futurebench.csv",
        "twiffbench.csv",
        "twiffbench_categories.csv",
        "cost.csv",
        "futurebench.tex",
        "twiffbench.tex",
        "twiffbench_categories.tex",
    ],
)
def test_outputs_match_golden(in_fixtures: Path, tmp_path: Path, name: str) -> None:
    write_report([Path(r) for r in RUNS], tmp_path, formats=("md", "csv", "tex"))
    got = (tmp_path / name).read_bytes()
    golden = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_bytes(got)
    assert got == golden.read_bytes(), f"{name} differs from {golden}; if intended, re-run with UPDATE_GOLDEN=1"


def test_report_is_deterministic_including_plots(in_fixtures: Path, tmp_path: Path) -> None:
    states = [Path("train_sft/trainer_state.json")]
    first = write_report([Path(r) for r in RUNS], tmp_path / "one", trainer_states=states)
    second = write_report([Path(r) for r in RUNS], tmp_path / "two", trainer_states=states)
    names = sorted(p.relative_to(tmp_path / "one") for p in first.files)
    assert names == sorted(p.relative_to(tmp_path / "two") for p in second.files)
    for rel in names:
        assert (tmp_path / "one" / rel).read_bytes() == (tmp_path / "two" / rel).read_bytes(), rel
    svg = (tmp_path / "one" / "plots" / "futurebench_splits.svg").read_text()
    assert "<dc:date>" not in svg and "Matplotlib v" not in svg


# ------------------------------------------------------------------ published numbers

TABLE1 = {  # typed from paper-facts.md §3.1: 1-Hop, 2-Hop, 3-Hop, Interp., AVG
    "GLM-4.1V (9B)": (29.9, 41.9, 52.2, 47.3, 44.4),
    "LLaVA-NeXT-Video (7B)": (48.8, 49.3, 40.0, 44.4, 45.2),
    "MiMo-VL (7B)": (59.0, 59.6, 50.5, 43.8, 50.5),
    "InternVL3 (8B)": (54.3, 58.0, 63.2, 54.4, 56.7),
    "Qwen2.5-VL-Instruct (7B)": (57.2, 57.0, 50.2, 50.7, 52.9),
    "Qwen2.5-VL-Instruct (72B)": (55.5, 68.4, 63.7, 53.2, 58.3),
    "Qwen3-VL (30B-A3B)": (65.3, 70.5, 76.1, 62.2, 66.9),
    "GPT-4o": (61.9, 61.7, 72.1, 51.6, 59.0),
    "GPT-5": (59.6, 57.3, 62.6, 55.6, 57.9),
    "Video-RFT (7B)": (62.4, 53.9, 50.7, 53.8, 54.6),
    "Video-R1 (7B)": (67.6, 65.3, 61.2, 61.8, 63.3),
    "VideoAuto-R1 (8B)": (63.6, 69.4, 67.7, 59.3, 63.4),
    "Video-o3 (7B)": (68.2, 73.6, 63.2, 69.7, 68.9),
    "NEP (7B)": (66.2, 69.9, 63.7, 68.1, 67.3),
    "Video-CoE (7B)": (80.9, 83.9, 71.6, 71.4, 75.0),
    "LVR (7B)": (22.5, 26.4, 22.9, 17.6, 21.0),
    "Monet (7B)": (46.8, 47.2, 45.3, 49.7, 47.9),
    "SwimBird (8B)": (59.0, 66.8, 64.7, 61.8, 62.8),
    "Qwen3-VL-Instruct (8B)": (64.2, 65.8, 66.2, 55.8, 61.0),
    "Text-only SFT (8B)": (67.6, 66.8, 68.2, 62.0, 65.0),
    "Future-L1-SFT (8B)": (70.5, 73.1, 77.6, 72.2, 73.2),
    "Future-L1-RL (8B)": (83.2, 86.5, 86.6, 85.1, 85.4),
}
TABLE2 = {  # paper-facts.md §3.2: CoT, Answer, Avg
    "Qwen2.5-VL (7B)": (2.46, 1.63, 2.05),
    "InternVL3.5 (8B)": (2.35, 1.85, 2.10),
    "DeepEyes (7B)": (2.54, 2.20, 2.37),
    "Janus-Pro (7B)": (2.04, 1.04, 1.54),
    "Bagel (7B)": (2.29, 1.85, 2.07),
    "TwiFF-300K (7B)": (2.90, 2.55, 2.73),
    "TwiFF-2.7M (7B)": (2.95, 2.62, 2.79),
    "Qwen3-VL zero-shot (8B)": (2.75, 2.14, 2.44),
    "Future-L1-SFT (8B)": (2.62, 2.42, 2.52),
    "Future-L1-RL (8B)": (3.11, 2.97, 3.04),
}


def test_published_table1_equals_paper() -> None:
    recs = futurebench_records()
    got: dict[str, dict[str, float]] = {}
    for r in recs:
        assert r.source == PUBLISHED and "arXiv:2606.05769" in r.origin and r.ci_low is None
        got.setdefault(r.model, {})[r.split] = r.value
    assert list(got) == list(TABLE1)  # the paper's row order
    for model, values in TABLE1.items():
        assert tuple(got[model][s] for s in ("hop1", "hop2", "hop3", "interp", "all")) == values, model


def test_published_table2_and_table7_equal_paper() -> None:
    got: dict[str, dict[str, float]] = {}
    for r in twiffbench_records():
        assert r.source == PUBLISHED and "Table 2" in r.origin
        got.setdefault(r.model, {})[r.metric] = r.value
    assert {m: (v["cot"], v["answer"], v["avg"]) for m, v in got.items()} == TABLE2
    cost = {p.model: (p.mean_output_tokens, p.acc, p.mean_latency_s) for p in inference_cost_points()}
    assert cost["Future-L1-RL (8B)"] == (195.3, 85.4, 0.91)
    assert cost["Video-o3 (7B)"] == (348.6, 68.9, 25.90)


def test_published_rows_are_marked_and_never_bold(in_fixtures: Path) -> None:
    from future_l1.reports.render import build_records

    fb = build_leaderboards(build_records(read_results([Path("run_a")])))[0]
    published = [row for row in fb.rows if row.source == PUBLISHED]
    assert len(published) == len(TABLE1)
    assert all(row.citation and not any(c.bold for c in row.cells) for row in published)
    # run_a is the only measured row: nothing to rank it against, so nothing is bold (the paper's rows never rank)
    assert not any(c.bold for c in fb.rows[0].cells)


# ------------------------------------------------------------------ readers and records


def test_readers_understand_both_layouts(in_fixtures: Path) -> None:
    results = read_results([Path("run_a"), Path("lmms_plain")])
    assert [(r.model, r.task) for r in results] == [
        ("tiny-a", "futurebench_future_l1"),
        ("tiny-a", "twiffbench_future_l1"),
        ("Org/Other-Model", "futurebench"),
        ("Org/Other-Model", "videomme"),
    ]
    plain = results[2]
    assert "future_acc_stderr" not in plain.metrics and plain.metrics["hop1_n"] == 8
    assert len(plain.sample_dicts()) == 32 and results[0].meta["env.git_hash"] == "0123abc"
    with pytest.raises(ReportInputError, match="neither results"):
        read_results([Path("train_sft")])


def test_measured_records_counts_and_intervals(in_fixtures: Path) -> None:
    from future_l1.reports.measured import records_from_result

    fb, tw = read_results([Path("run_a")])
    recs = {(r.split, r.metric): r for r in records_from_result(fb)}
    dicts = fb.sample_dicts()
    correct = [100.0 * d["correct"] for d in dicts]
    overall = recs[("all", "acc")]
    assert overall.source == MEASURED and overall.count == 32
    assert overall.value == pytest.approx(sum(correct) / 32)
    assert (overall.ci_low, overall.ci_high) == bootstrap_ci(correct)
    assert overall.ci_low < overall.value < overall.ci_high
    assert recs[("all", "n_errors")].value == 1  # the corrupt-video sample is counted, not dropped
    assert recs[("hop3", "acc")].count == 8
    spans = [len(d["latent_spans"]) for d in dicts]
    assert recs[("all", "mean_latent_spans")].value == pytest.approx(sum(spans) / 32)
    twr = {(r.split, r.metric): r for r in records_from_result(tw)}
    judged = [d for d in tw.sample_dicts() if d["judged"]]
    assert twr[("all", "cot")].count == len(judged) == 8
    assert twr[("all", "n_failed")].value == 2
    assert twr[("all", "avg")].value == pytest.approx(sum(d["cot"] + d["answer_score"] for d in judged) / 16)


def test_bootstrap_is_seeded() -> None:
    x = [0.1 * i**1.5 for i in range(20)]
    assert bootstrap_ci(x, seed=3) == bootstrap_ci(x, seed=3)
    assert bootstrap_ci(x, seed=3) != bootstrap_ci(x, seed=4)
    assert bootstrap_ci([]) is None


# ------------------------------------------------------------------ compare


def _correct_by_hash(path: Path) -> dict[str, int]:
    (line_file,) = path.glob("samples/*/futurebench_future_l1.jsonl")
    lines = [json.loads(x) for x in line_file.read_text().splitlines()]
    return {x["sample_hash"]: x["future_acc"]["correct"] for x in lines}


def test_compare_gives_the_hand_computed_difference_and_p_value(in_fixtures: Path) -> None:
    a, b = _correct_by_hash(Path("run_a")), _correct_by_hash(Path("run_b"))
    only_a = sum(1 for k in a if a[k] and not b[k])
    only_b = sum(1 for k in a if b[k] and not a[k])
    assert (only_a, only_b) == (2, 7)  # as make_fixtures.py built them
    n = only_a + only_b
    p_hand = min(1.0, 2 * sum(math.comb(n, k) for k in range(min(only_a, only_b) + 1)) / 2**n)  # exact McNemar
    rows = compare_paths(Path("run_a"), Path("run_b"))
    overall = next(r for r in rows if r.split == "all")
    assert overall.n_shared == 32 and overall.only_a == overall.only_b == 0
    assert overall.diff == pytest.approx(100.0 * (only_b - only_a) / 32)  # +15.625 points
    assert (overall.a_only_correct, overall.b_only_correct) == (2, 7)
    assert overall.p_value == pytest.approx(p_hand) == pytest.approx(92 / 512)
    assert overall.ci_low < overall.diff < overall.ci_high
    assert {r.split for r in rows} == {"all", "hop1", "hop2", "hop3", "interp"}
    assert sum(r.n_shared for r in rows if r.split != "all") == 32


def test_mcnemar_large_counts_use_chi_square() -> None:
    b, c = 30, 50  # chi2 = (|30-50|-1)^2/80 = 4.5125; sf(x, 1 df) = erfc(sqrt(x/2))
    assert mcnemar_p(b, c) == pytest.approx(math.erfc(math.sqrt(4.5125 / 2)))
    assert mcnemar_p(0, 0) == 1.0 and mcnemar_p(5, 5) == 1.0


def test_compare_matches_by_doc_hash_when_sample_hash_is_missing(in_fixtures: Path) -> None:
    rows = compare_paths(Path("lmms_plain"), Path("lmms_plain"))
    overall = next(r for r in rows if r.split == "all")
    assert overall.n_shared == 32 and overall.diff == 0 and overall.p_value == 1.0


# ------------------------------------------------------------------ CLI and harness hook


def test_cli_report_and_compare(in_fixtures: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert cli_main(["report", "run_a", "run_b", "--out", str(tmp_path / "r"), "--format", "md"]) == 0
    assert (tmp_path / "r" / "leaderboard.md").read_text() == capsys.readouterr().out.rstrip("\n") + "\n"
    assert not (tmp_path / "r" / "report.html").exists()
    assert cli_main(["report", "compare", "run_a", "run_b", "--out", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert "| futurebench_future_l1 | all | acc | tiny-a | tiny-b | 32 |" in out and "+15.6" in out
    saved = json.loads((tmp_path / "c" / "compare.json").read_text())
    assert saved[0]["p_value"] == pytest.approx(92 / 512)
    assert cli_main(["report", "compare", "run_a"]) == 2
    assert cli_main(["report", "no_such_run"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_render_run_writes_report_beside_the_run(tmp_path: Path) -> None:
    run = tmp_path / "run_a"
    shutil.copytree(FIXTURES / "run_a", run)
    md = render_run(run)
    assert md.startswith("### FutureBench accuracy (%)") and "Video-CoE (7B)" in md
    assert {"leaderboard.md", "report.html", "records.csv", "futurebench.tex"} <= {
        p.name for p in (run / "report").iterdir()
    }
    assert (run / "report" / "plots" / "latent_spans_tiny-a_futurebench_future_l1.png").stat().st_size > 0


# ------------------------------------------------------------------ HTML in a real browser


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(_chromium() is None, reason="headless Chromium not installed (Debian: apt-get install chromium)")
def test_html_page_renders_in_headless_chromium(in_fixtures: Path, tmp_path: Path) -> None:
    from PIL import Image

    report = write_report([Path(r) for r in RUNS], tmp_path / "out", formats=FORMATS)
    page = (tmp_path / "out" / "report.html").resolve()
    assert page in [p.resolve() for p in report.files]
    flags = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    png = tmp_path / "shot.png"
    run = subprocess.run(
        [*flags, f"--screenshot={png}", "--window-size=1200,800", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert png.exists() and png.stat().st_size > 0, run.stderr[-2000:]
    with Image.open(png) as img:
        colours = img.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 10  # text, header band, row shading: not a blank page
    dom = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    for text in ("FutureBench accuracy (%)", "1-Hop", "Interp.", "AVG", "n judged", "Video-CoE (7B)", "<strong>"):
        assert text in dom, text
    assert dom.count('<tr class="published">') == len(TABLE1) + len(TABLE2)
    assert "data:image/png;base64," in dom
