"""Every number says what produced it (issue 26): provenance in every table format and in the printed leaderboard,
ranking only among comparable rows, published rows apart, a paper-ready LaTeX table, latency plots per hardware,
TwiFF-Bench categories, and an HTML report that names its runs (date, commit, model arguments, judge, hardware)."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path

import pytest
from report_helpers import edit_json, report_cli, results_file, samples_file

from future_l1.reports import run_leaderboard
from future_l1.reports.leaderboard import build_leaderboards
from future_l1.reports.measured import records_from_result
from future_l1.reports.provenance import RowProvenance
from future_l1.reports.readers import read_results
from future_l1.reports.records import MEASURED, OVERALL, Record
from future_l1.reports.render import write_report
from future_l1.reports.stats import bootstrap_ci

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ALL = ("run_a", "run_b", "run_c", "lmms_plain")


@pytest.fixture()
def report(tmp_path: Path) -> Path:
    write_report([FIXTURES / r for r in ALL], tmp_path / "out", formats=("md", "csv", "tex", "html"), n_boot=50)
    return tmp_path / "out"


# ---------------------------------------------------------------- provenance in every format (item 1, item 3)


def test_every_table_format_names_the_provenance_of_each_row(report: Path) -> None:
    md = (report / "leaderboard.md").read_text()
    assert "| tiny-c | futurebench_future_l1 | demo data · subset: first 8 of 32 |" in md
    assert "| tiny-c | twiffbench_future_l1 | demo data · rubric judge · subset: first 8 of 10 |" in md
    assert "| tiny-a | twiffbench_future_l1 | data unknown · judge judge-demo (not comparable) |" in md
    html = (report / "report.html").read_text()
    assert '<td class="text">demo data · rubric judge · subset: first 8 of 10</td>' in html
    rows = {(r["model"], r["task"]): r for r in csv.DictReader(io.StringIO((report / "twiffbench.csv").read_text()))}
    assert rows[("tiny-c", "twiffbench_future_l1")]["provenance"] == "demo data · rubric judge · subset: first 8 of 10"
    assert rows[("tiny-c", "twiffbench_future_l1")]["comparable"] == "false"
    records = list(csv.DictReader(io.StringIO((report / "records.csv").read_text())))
    latency = next(r for r in records if r["model"] == "tiny-c" and r["metric"] == "mean_latency_s")
    assert latency["hardware"] == "NVIDIA H200" and "subset" in latency["provenance"]
    tex = (report / "twiffbench.tex").read_text()
    assert r"tiny-c$^{\mathrm{b}}$" in tex
    assert (
        r"$^{\mathrm{b}}$ demo data \textperiodcentered{} rubric judge \textperiodcentered{} subset: first 8 of 10."
        in tex
    )


def test_the_printed_leaderboard_of_a_run_carries_provenance(tmp_path: Path) -> None:
    run = tmp_path / "run_c"
    shutil.copytree(FIXTURES / "run_c", run)
    text = run_leaderboard(run)
    assert "| tiny-c | futurebench_future_l1 | demo data · subset: first 8 of 32 |" in text
    assert "| Latency measured on |" in text and "| NVIDIA H200 |" in text  # the cost table names the hardware
    # the fallback, when the report cannot be rendered, still names each row's provenance
    (run / "report").rename(run / "old")
    (run / "report").write_text("a file where the report folder goes")
    fallback = run_leaderboard(run)
    assert "demo data · subset: first 8 of 32" in fallback and "futurebench_future_l1:future_acc" in fallback


def test_provenance_is_inferred_for_files_without_it(tmp_path: Path, run_copy) -> None:
    """Schema version 1 and lmms-eval output: the judge from the per-sample records, the subset from `limit` and
    lmms-eval's n-samples, the hardware from env.json; the data stays unknown."""
    fb, tw = read_results([FIXTURES / "run_a"])
    assert (fb.provenance.data, fb.provenance.judge, fb.provenance.recorded) == ("unknown", "", False)
    assert (tw.provenance.judge, tw.provenance.judge_comparable) == ("judge-demo", False)
    assert not fb.provenance.comparable and fb.provenance.fingerprint == "ab" * 32
    run = run_copy("run_a")
    edit_json(run / "env.json", lambda d: d.update(gpu={"available": True, "names": ["NVIDIA H200", "NVIDIA H200"]}))
    edit_json(results_file(run), lambda d: d.update(config={"limit": 32}))
    lines = [
        json.loads(x) for x in (run / "samples" / "tiny-a" / "twiffbench_future_l1.jsonl").read_text().splitlines()
    ]
    for line in lines:
        line["twiff_avg"]["judge"] = {"provider": "rubric", "model": "future-l1-rubric-v1", "comparable": False}
    (run / "samples" / "tiny-a" / "twiffbench_future_l1.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    fb, tw = read_results([run])
    assert fb.provenance.hardware == "NVIDIA H200 ×2" and fb.provenance.subset == "first 32 (limit 32)"
    assert tw.provenance.judge == "rubric" and "rubric judge" in tw.provenance.label
    plain = run_copy("lmms_plain")
    (path,) = plain.rglob("*_results.json")
    edit_json(path, lambda d: d["n-samples"]["futurebench"].update(original=96))
    (lmms,) = [r for r in read_results([plain]) if r.task == "futurebench"]
    assert lmms.provenance.subset == "first 32 of 96" and lmms.provenance.hardware == "unknown"


def test_a_twiff_row_without_judge_records_says_judge_unknown(run_copy) -> None:
    run = run_copy("run_a")
    path = run / "samples" / "tiny-a" / "twiffbench_future_l1.jsonl"
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    for line in lines:
        line["twiff_avg"]["judge"] = None
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    (tw,) = [r for r in read_results([run]) if r.task.startswith("twiff")]
    assert "judge unknown" in tw.provenance.label and not tw.provenance.judge_comparable


def _record(model: str, value: float, count: int, prov: RowProvenance) -> Record:
    return Record("futurebench", model, "futurebench_future_l1", OVERALL, "acc", value, count, source=MEASURED,
                  origin=f"runs/{model}", provenance=prov)  # fmt: skip


REAL = RowProvenance(data="folder futurebench", comparable=True, fingerprint="f1")
SUBSET = RowProvenance(data="folder futurebench", subset="first 8 of 24", fingerprint="f1")


@pytest.mark.parametrize(
    ("rows", "bold"),
    [
        ([("a", 60.0, 24, REAL), ("b", 70.0, 24, REAL)], {"b"}),  # comparable, same n: ranked
        ([("a", 60.0, 24, REAL), ("b", 70.0, 8, REAL)], set()),  # different n (8 vs 24): not ranked
        ([("a", 60.0, 24, REAL), ("b", 90.0, 8, SUBSET), ("c", 65.0, 24, REAL)], {"c"}),  # the subset stays out
        ([("a", 60.0, 24, RowProvenance()), ("b", 70.0, 24, RowProvenance())], set()),  # unknown data, no hash
        ([("a", 60.0, 24, REAL)], set()),  # alone: nothing to rank against
        ([("a", 60.04, 24, REAL), ("b", 59.96, 24, REAL)], {"a", "b"}),  # a visible tie (60.0): both bold
    ],
)
def test_bold_marks_the_best_only_among_comparable_rows_of_the_same_n(rows, bold) -> None:
    (board,) = build_leaderboards([_record(*r) for r in rows])
    assert {row.model for row in board.rows if row.cells[-1].bold} == bold


def test_a_subset_row_says_it_is_one(report: Path) -> None:
    md = (report / "leaderboard.md").read_text()
    row = next(line for line in md.splitlines() if line.startswith("| tiny-c | futurebench_future_l1"))
    assert "subset: first 8 of 32" in row and "**" not in row


# ---------------------------------------------------------------- published rows apart, paper-ready LaTeX (item 11)


def test_published_rows_stay_in_a_table_of_their_own(report: Path) -> None:
    md = (report / "leaderboard.md").read_text()
    fb = md.split("### TwiFF-Bench")[0]
    measured, published = fb.split("Published (for context, not ranked):")
    assert "Video-CoE (7B)" in published and "Video-CoE" not in measured
    assert "tiny-a" in measured and "tiny-a" not in published
    assert "**" not in published


def test_latex_is_paper_ready_with_only_the_rows_asked_for(tmp_path: Path, capsys) -> None:
    out = tmp_path / "tex"
    rc, _, err = report_cli(capsys, str(FIXTURES / "run_a"), str(FIXTURES / "run_b"), "--out", str(out), "--format",
                            "tex", "--models", "tiny-a,tiny-b", "--published", "Video-CoE,NEP", "--n-boot", "20")  # fmt: skip
    assert rc == 0, err
    tex = (out / "futurebench.tex").read_text()
    assert "run_a" not in tex and "run_b" not in tex and "measured" not in tex  # no run ids
    models = [line.split(" & ")[0] for line in tex.splitlines() if " & " in line and not line.startswith("Model")]
    assert [re.sub(r"\$.*", "", m) for m in models] == ["tiny-a", "tiny-b", "NEP (7B) [1]", "Video-CoE (7B) [1]"]
    assert "Task" not in tex  # one task: no Task column
    # without --published the LaTeX table has no published row; the Markdown keeps them all as context
    rc, _, _ = report_cli(capsys, str(FIXTURES / "run_a"), "--out", str(tmp_path / "t2"), "--n-boot", "20",
                          "--format", "tex", "--format", "md")  # fmt: skip
    assert rc == 0
    assert "Video-CoE" not in (tmp_path / "t2" / "futurebench.tex").read_text()
    assert "Video-CoE (7B)" in (tmp_path / "t2" / "leaderboard.md").read_text()
    rc, _, err = report_cli(capsys, str(FIXTURES / "run_a"), "--out", str(tmp_path / "t3"), "--published", "NoSuch")
    assert rc == 2 and "NoSuch" in err and "Video-CoE (7B)" in err
    rc, _, err = report_cli(capsys, str(FIXTURES / "run_a"), "--out", str(tmp_path / "t4"), "--models", "nobody")
    assert rc == 2 and "nobody" in err and "tiny-a" in err


# ---------------------------------------------------------------- accuracy vs latency per hardware (item 4)


def test_cpu_and_h200_latencies_never_share_an_axis(monkeypatch, tmp_path: Path) -> None:
    from future_l1.reports import plots
    from future_l1.reports.published import CostPoint, inference_cost_points

    drawn = []
    monkeypatch.setattr(plots, "save", lambda fig, stem: drawn.append(fig) or [stem.with_suffix(".png")])
    cpu = CostPoint("tiny · futurebench", 25.0, 150.0, 0.6, MEASURED, "runs/x", hardware="cpu (x86_64)",
                    comparable=False)  # fmt: skip
    plots.accuracy_vs_cost([cpu, *inference_cost_points()], "mean_latency_s", tmp_path / "lat")
    (fig,) = drawn
    titles = [ax.get_title() for ax in fig.axes]
    assert len(fig.axes) == 2 and any("cpu (x86_64)" in t for t in titles) and any("H200" in t for t in titles)
    for ax in fig.axes:
        xs = {round(x, 6) for line in ax.get_lines() for x in line.get_xdata()}
        cpu_panel = "cpu" in ax.get_title()
        assert (0.6 in xs) == cpu_panel  # the CPU latency is on the CPU panel (and its front) only
        assert (0.91 in xs) == (not cpu_panel)  # Future-L1-RL's H200 latency, on the Pareto front of its panel
    drawn.clear()
    plots.accuracy_vs_cost([cpu, *inference_cost_points()], "mean_output_tokens", tmp_path / "tok")
    assert len(drawn[0].axes) == 1  # tokens do not depend on the machine


# ---------------------------------------------------------------- TwiFF-Bench categories (item 12)


def test_twiff_scores_per_category(report: Path) -> None:
    (_, tw) = read_results([FIXTURES / "run_a"])
    recs = {(r.split, r.metric): r for r in records_from_result(tw, n_boot=50)}
    for category in ("physical", "predictive"):
        judged = [d for d in tw.sample_dicts() if d["category"] == category and d["judged"]]
        avg = [(d["cot"] + d["answer_score"]) / 2 for d in judged]
        rec = recs[(f"category:{category}", "avg")]
        assert rec.value == pytest.approx(sum(avg) / len(avg)) and rec.count == len(judged) == 4
        assert (rec.ci_low, rec.ci_high) == bootstrap_ci(avg, n_boot=50)
        members = [d for d in tw.sample_dicts() if d["category"] == category]
        assert recs[(f"category:{category}", "n_failed")].value == len(members) - len(judged)
    md = (report / "leaderboard.md").read_text()
    assert "### TwiFF-Bench Avg by category (0-5, judged samples)" in md
    assert "| physical | predictive | n physical | n predictive |" in md
    assert (report / "twiffbench_categories.csv").is_file() and (report / "twiffbench_categories.tex").is_file()


# ---------------------------------------------------------------- HTML: runs, figures with captions (item 11)


def test_html_names_date_commit_model_args_judge_and_hardware(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_report([FIXTURES / "run_a", FIXTURES / "run_c"], out, n_boot=20, trainer_states=[FIXTURES / "train_sft"])
    html = (out / "report.html").read_text()
    for text in ("2026-12-01T10:00:00Z", "0123abc", "pretrained=/ckpts/tiny-a", "judge-demo", "rubric",
                 "NVIDIA H200", "<h2>Runs</h2>", "<h2>Models and tasks</h2>"):  # fmt: skip
        assert text in html, text
    headings = re.findall(r"<h3>(.*?)</h3>\s*<img", html)
    captions = re.findall(r'<p class="caption">(.*?)</p>', html)
    assert len(headings) == len(captions) == html.count("<img") >= 5
    assert not any(h.endswith((".png", "_splits", "acc_vs_latency")) for h in headings)
    assert "Accuracy vs latency" in headings and any("Training curves" in h for h in headings)


def test_no_latent_span_plot_for_a_model_without_latents(run_copy, tmp_path: Path) -> None:
    run = run_copy("run_b")
    path = samples_file(run)
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    for line in lines:
        for key in ("future_acc", "future_acc_strict", "hop1_acc"):
            line[key]["latent_spans"] = []
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    report = write_report([run, FIXTURES / "run_a"], tmp_path / "out", n_boot=20, published=False)
    plots = {p.name for p in report.files}
    assert "latent_spans_tiny-a_futurebench_future_l1.png" in plots
    assert not any(n.startswith("latent_spans_tiny-b") for n in plots)


def test_samples_of_records_with_a_data_warning_are_counted(run_copy, tmp_path: Path) -> None:
    """A record the data rules warn about is scored as the authors score it; the report says how many there are."""
    run = run_copy("run_b")
    path = samples_file(run)
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    for line in lines[:3]:
        line["future_acc"]["warning"] = "id 'fb-000' is used by an earlier record"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    report = write_report([run], tmp_path / "out", formats=("md",), published=False, n_boot=20)
    (problem,) = report.problems
    assert "3 sample(s) from data records with a warning" in problem and "fb-000" in problem
    assert "3 sample(s) from data records with a warning" in (tmp_path / "out" / "leaderboard.md").read_text()
