"""Latent-space maps (`reports.latent_maps`): points labelled from the scored samples, deterministic PCA/t-SNE
figures, the HTML report hook, and a real run of the demo model with `save_latents`."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from future_l1.reports import latent_maps
from future_l1.reports.readers import RunResult


def _write_latents(folder: Path, n_docs: int = 12, hidden: int = 16) -> None:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for doc in range(n_docs):
        spans = [4, 4] if doc % 2 else [4]
        latents = rng.normal(size=(sum(spans), hidden)) + 3.0 * np.repeat(np.arange(len(spans)), spans)[:, None]
        np.savez(folder / f"futurebench_future_l1__test__{doc}__rank0.npz", latents=latents.astype(np.float16),
                 span_lengths=np.asarray(spans, dtype=np.int32))  # fmt: skip
    np.savez(folder / "futurebench_future_l1__test__99__rank0.npz", latents=np.zeros((0, hidden), np.float16),
             span_lengths=np.zeros(0, np.int32))  # fmt: skip  # an answer without spans adds no point


def _result(latent_dir: Path, n_docs: int = 12) -> RunResult:
    splits = ("hop1", "hop2", "hop3", "interp")
    samples = [
        {"doc_id": d, "future_acc": {"doc_id": d, "split": splits[d % 4], "correct": int(d % 3 == 0)}}
        for d in range(n_docs)
    ]
    return RunResult(model="m", task="futurebench_future_l1", metrics={"future_acc": 0.0}, origin="x",
                     samples=samples, meta={"model_args": f"pretrained=/x,save_latents={latent_dir},latent=true"})  # fmt: skip


def test_points_carry_span_step_split_and_correctness(tmp_path):
    _write_latents(tmp_path / "lat")
    samples = {d["doc_id"]: d["future_acc"] for d in _result(tmp_path / "lat").samples}
    points = latent_maps.load_points(tmp_path / "lat", "futurebench_future_l1", samples)
    assert points.vectors.shape == (6 * 4 + 6 * 8, 16)
    odd = points.doc == 1
    assert points.span[odd].tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert points.step[odd].tolist() == [0, 1, 2, 3, 0, 1, 2, 3]
    assert set(points.split[odd]) == {"hop2"} and set(points.correct[odd]) == {"wrong"}
    assert set(points.correct[points.doc == 3]) == {"correct"}
    assert latent_maps.save_latents_dir("a=1,save_latents=/tmp/x,b=2") == Path("/tmp/x")
    assert latent_maps.save_latents_dir("a=1") is None
    assert latent_maps.save_latents_dir("save_latents=run://latents/m", "/runs/r1") == Path("/runs/r1/latents/m")
    assert latent_maps.save_latents_dir("save_latents=run://latents/m") is None
    # PCA separates the two spans (their means differ by 3 per dimension)
    xy = latent_maps.project(points.vectors, "pca")
    assert abs(xy[points.span == 0, 0].mean() - xy[points.span == 1, 0].mean()) > 5


def test_maps_are_deterministic_and_in_the_html_report(tmp_path):
    from future_l1.reports.render import write_report

    _write_latents(tmp_path / "lat")
    files = latent_maps.maps_for_results([_result(tmp_path / "lat")], tmp_path / "p1")
    again = latent_maps.maps_for_results([_result(tmp_path / "lat")], tmp_path / "p2")
    names = sorted(f.name for f in files)
    assert names == sorted(
        f"latent_map_m_futurebench_future_l1_{m}.{e}" for m in ("pca", "tsne") for e in ("png", "svg")
    )
    digest = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in files}
    assert digest == {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in again}
    assert latent_maps.maps_for_results([_result(tmp_path / "missing")], tmp_path / "p3") == []

    # through the report: a run directory whose model saved latents gets the maps in plots/ and report.html
    import json

    run = tmp_path / "run"
    (run / "results" / "m").mkdir(parents=True)
    (run / "samples" / "m").mkdir(parents=True)
    r = _result(tmp_path / "lat")
    (run / "results" / "m" / "futurebench_future_l1.json").write_text(json.dumps(
        {"model": "m", "task": "futurebench_future_l1", "model_args": r.meta["model_args"],
         "metrics": {"future_acc": 33.3}, "n_samples": 12}))  # fmt: skip
    (run / "samples" / "m" / "futurebench_future_l1.jsonl").write_text(
        "".join(json.dumps({**s, "doc_hash": str(s["doc_id"])}) + "\n" for s in r.samples)
    )
    report = write_report([run], tmp_path / "report", published=False)
    assert (tmp_path / "report" / "plots" / "latent_map_m_futurebench_future_l1_tsne.png").is_file()
    html = (tmp_path / "report" / "report.html").read_text()
    assert "latent_map_m_futurebench_future_l1_pca" in html or html.count("data:image/png") >= 2
    assert any(p.name.startswith("latent_map_") for p in report.files)


def test_maps_of_the_demo_model(tmp_path):
    """The default demo suite's latent model, with its own arguments (save_latents=run://latents/…), run through the
    harness on the FutureBench demo set: the latents land in the run directory and the maps render from it alone."""
    import json
    import shutil

    import yaml

    from future_l1.harness.runner import Runner
    from future_l1.harness.suite import load_suite, validated_and_resolved

    (model,) = [m for m in load_suite(None).models if m.args.get("save_latents")]
    assert model.label == "future_l1_tiny" and model.args["save_latents"].startswith("run://")
    suite = {
        "name": "demo-latents",
        "models": [{"label": model.label, "model": model.model, "args": dict(model.args)}],
        "tasks": [{"name": "futurebench_future_l1", "limit": 4, "gen_kwargs": {"max_new_tokens": 64}}],
    }
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    suite = load_suite(path)
    outcome = Runner(suite, tmp_path / "runs", resolved=validated_and_resolved(suite)).execute()
    assert not outcome.failures
    latents = outcome.run_dir / model.args["save_latents"][len("run://") :]
    assert len(list(latents.glob("futurebench_future_l1__*.npz"))) == 4
    results = json.loads((outcome.run_dir / "results" / model.label / "futurebench_future_l1.json").read_text())
    assert "save_latents=run://" in results["model_args"]  # no machine path: the run directory stays relocatable
    moved = shutil.move(str(outcome.run_dir), str(tmp_path / "moved"))
    files = latent_maps.latent_maps(Path(moved), tmp_path / "plots")
    assert {f.name for f in files} >= {"latent_map_future_l1_tiny_futurebench_future_l1_pca.png"}
    assert all(f.stat().st_size > 1000 for f in files)


def _capture(monkeypatch) -> list:
    from future_l1.reports import plots

    figures: list = []
    monkeypatch.setattr(plots, "save", lambda fig, stem: figures.append(fig) or [stem.with_suffix(".png")])
    return figures


def test_maps_have_labelled_axes(tmp_path, monkeypatch):
    """Issue 26 item 11: the axes say what they are (PCA: the share of variance per component)."""
    _write_latents(tmp_path / "lat")
    samples = {d["doc_id"]: d["future_acc"] for d in _result(tmp_path / "lat").samples}
    points = latent_maps.load_points(tmp_path / "lat", "futurebench_future_l1", samples)
    figures = _capture(monkeypatch)
    latent_maps.draw(points, "t", tmp_path / "m")
    pca, tsne = figures
    for ax in pca.axes:
        assert ax.get_xlabel().startswith("PC 1 (") and "% of variance" in ax.get_ylabel()
        assert len(ax.get_xticks()) > 0
    assert all(ax.get_xlabel().startswith("t-SNE 1") for ax in tsne.axes)
    assert [ax.get_title() for ax in pca.axes] == ["by span index", "by step within span", "by split", "by correctness"]


def test_twiff_maps_colour_by_category_and_draw_no_unknown_panel(tmp_path, monkeypatch):
    """TwiFF-Bench records carry a category and no correctness: the panels are span, step and category; none has a
    "?" legend."""
    folder = tmp_path / "lat"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for doc in range(6):
        np.savez(folder / f"twiffbench_future_l1__test__{doc}__rank0.npz",
                 latents=rng.normal(size=(4, 8)).astype(np.float16), span_lengths=np.asarray([4], dtype=np.int32))  # fmt: skip
    samples = {d: {"doc_id": d, "category": ("physical", "predictive")[d % 2], "judged": True} for d in range(6)}
    points = latent_maps.load_points(folder, "twiffbench_future_l1", samples)
    assert points.split_name == "category" and set(points.split) == {"physical", "predictive"}
    figures = _capture(monkeypatch)
    latent_maps.draw(points, "t", tmp_path / "m", methods=("pca",))
    (fig,) = figures
    assert [ax.get_title() for ax in fig.axes] == ["by span index", "by step within span", "by category"]
    legends = [t.get_text() for ax in fig.axes for t in ax.get_legend().get_texts()]
    assert "?" not in legends and {"physical", "predictive"} <= set(legends)
