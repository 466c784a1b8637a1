"""Write the small fixture runs under tests/reports/fixtures/ (checked in; `test_fixtures_are_current` re-runs this).

    python tests/reports/make_fixtures.py

run_a, run_b: Future-L1 run directories (CONTEXT.md layout) of two models on the same 32 FutureBench questions; B
equals A except on 9 known questions (B fixes the first 7 that A got wrong, breaks the first 2 that A got right).
run_a also holds 10 TwiFF-Bench samples (2 judge failures, categories physical / predictive) and one model-side
error (question 18, wrong in both). Both are results schema version 1 (no provenance; hashes.json fingerprints the
documents). run_c: schema version 2 with provenance (demo data, the rubric judge, the first 8 of 32 documents,
latencies on an H200) of a third model. lmms_plain: plain lmms-eval --output_path files of a fourth model
(doc_hash, no sample_hash) plus a task without samples. train_sft/trainer_state.json: a HF Trainer log_history.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SPLITS = ("hop1", "hop2", "hop3", "interp")
N_FB, N_TW = 32, 10
FB_KEYS = ("future_acc", "future_acc_strict", "hop1_acc", "hop2_acc", "hop3_acc", "interp_acc", "n_errors")
TW_KEYS = ("twiff_cot", "twiff_answer", "twiff_avg", "n_judged", "n_failed")
RUBRIC = {
    "provider": "rubric",
    "base_url": "embedded",
    "model": "future-l1-rubric-v1",
    "prompt_version": "twiff-v1",
    "temperature": 0.0,
    "max_tokens": 512,
    "text_only": True,
    "comparable": False,
}
PROVENANCE_C = {
    "data": {"kind": "demo", "path": "demo", "fingerprint": "ef" * 32},
    "judge": {"kind": "none"},
    "subset": {"strategy": "first", "limit": 8, "n": 8, "n_total": 32},
    "hardware": {"kind": "cuda", "device": "NVIDIA H200"},
    "checkpoint": {"source": "local", "ref": "/ckpts/tiny-c"},
    "intervention": "none",
}
JUDGE = {
    "provider": "openai",
    "base_url": "http://localhost:8000/v1",
    "model": "judge-demo",
    "prompt_version": "twiff-v1",
    "temperature": 0.0,
    "max_tokens": 512,
    "text_only": True,
    "comparable": False,
}


def correct_a(i: int) -> int:
    return int((i * 7) % 10 < 6)


def flips() -> tuple[list[int], list[int]]:
    """(questions B gets wrong where A was right, questions B gets right where A was wrong)."""
    right = [i for i in range(N_FB) if correct_a(i)]
    wrong = [i for i in range(N_FB) if not correct_a(i)]
    return right[:2], wrong[:7]


def correct_b(i: int) -> int:
    to_wrong, to_right = flips()
    return 0 if i in to_wrong else 1 if i in to_right else correct_a(i)


def _dump(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _dump_lines(path: Path, lines: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(x, sort_keys=True) + "\n" for x in lines), encoding="utf-8")


def futurebench_samples(model: str, correct, *, ours: bool, error_at: int | None, n: int = N_FB) -> list[dict]:
    lines = []
    for i in range(n):
        split = SPLITS[i % 4]
        answer = "ABCD"[i % 4]
        ok = correct(i)
        error = "[future-l1 error] corrupt video: demo_0007.mp4 (moov atom not found)" if i == error_at else None
        if error:
            ok = 0
        pred = "" if error else answer if ok else "ABCD"[(i + 1) % 4]
        spans = [] if error else [4] * (1 + (i // 4 + SPLITS.index(split)) % 4)
        d = {
            "doc_id": i,
            "id": f"fb-{i:03d}",
            "split": split,
            "pred": pred,
            "pred_strict": pred if i % 5 else "",
            "answer": answer,
            "correct": ok,
            "correct_strict": ok if i % 5 else 0,
            "error": error,
            "latent_spans": spans,
        }
        line = {
            "doc_id": i,
            "doc_hash": hashlib.sha256(f"futurebench-{i}".encode()).hexdigest(),
            "target": answer,
            "resps": [[error or f"<reason>...</reason><answer>{pred}</answer>"]],
            "filtered_resps": [error or f"<reason>...</reason><answer>{pred}</answer>"],
            "token_counts": [
                {"input_tokens": 2048, "output_tokens": 120 + (i * 13) % 90, "reasoning_tokens": sum(spans)}
            ],
            "input": f"question {i}",
            **{k: d for k in FB_KEYS},
        }
        if ours:
            line.update(
                model=model, task="futurebench_future_l1", sample_hash=f"s{i:04d}", latency_s=0.4 + (i * 37) % 50 / 100
            )
        lines.append(line)
    return lines


def futurebench_metrics(lines: list[dict]) -> dict:
    ds = [x["future_acc"] for x in lines]
    m = {
        "future_acc": 100.0 * sum(d["correct"] for d in ds) / len(ds),
        "future_acc_strict": 100.0 * sum(d["correct_strict"] for d in ds) / len(ds),
        "n_errors": sum(1 for d in ds if d["error"]),
    }
    for s in SPLITS:
        sub = [d for d in ds if d["split"] == s]
        m[f"{s}_acc"] = 100.0 * sum(d["correct"] for d in sub) / len(sub)
        m[f"{s}_n"] = len(sub)
    return m


def twiff_samples(model: str, judge: dict = JUDGE, n: int = N_TW) -> list[dict]:
    lines = []
    for i in range(n):
        failed = i in (3, 8)
        d = {
            "doc_id": i,
            "id": f"tw-{i:03d}",
            "category": ("physical", "predictive")[i % 2],
            "cot": None if failed else 1.0 + (i * 3) % 5,
            "answer_score": None if failed else 0.5 + (i * 2) % 5,
            "judged": not failed,
            "error": "judge timed out after 60 s" if failed else None,
            "judge": judge,
            "latent_spans": [4, 4],
        }
        lines.append(
            {
                "doc_id": i,
                "doc_hash": hashlib.sha256(f"twiff-{i}".encode()).hexdigest(),
                "target": "reference answer",
                "filtered_resps": ["prediction"],
                "token_counts": [{"input_tokens": 900, "output_tokens": 200 + i, "reasoning_tokens": 8}],
                "input": f"question {i}",
                **{k: d for k in TW_KEYS},
                "model": model,
                "task": "twiffbench_future_l1",
                "sample_hash": f"t{i:04d}",
                "latency_s": 1.0 + i / 10,
            }
        )
    return lines


def twiff_metrics(lines: list[dict]) -> dict:
    ds = [x["twiff_avg"] for x in lines]
    judged = [d for d in ds if d["judged"]]
    cot = sum(d["cot"] for d in judged) / len(judged)
    ans = sum(d["answer_score"] for d in judged) / len(judged)
    return {
        "twiff_cot": cot,
        "twiff_answer": ans,
        "twiff_avg": (cot + ans) / 2,
        "twiff_cot_failzero": sum(d["cot"] for d in judged) / len(ds),
        "twiff_answer_failzero": sum(d["answer_score"] for d in judged) / len(ds),
        "twiff_avg_failzero": (sum(d["cot"] for d in judged) + sum(d["answer_score"] for d in judged)) / 2 / len(ds),
        "n_judged": len(judged),
        "n_failed": len(ds) - len(judged),
    }


def write_run(
    run_dir: Path,
    label: str,
    correct,
    *,
    twiff: bool,
    error_at: int | None,
    provenance: dict | None = None,
    n: int = N_FB,
) -> None:
    _dump(run_dir / "env.json", {"git_hash": "0123abc", "python": "3.11.2", "torch": "2.13.0", "packages": {"x": "1"}})
    _dump(
        run_dir / "hashes.json", {"datasets": {"futurebench_future_l1": "ab" * 32}, "checkpoints": {label: "cd" * 32}}
    )
    _dump(run_dir / "judge.json", {"model": JUDGE["model"], "prompt_version": JUDGE["prompt_version"]})
    tasks = ["futurebench_future_l1"] + (["twiffbench_future_l1"] if twiff else [])
    _dump(run_dir / "state.json", {"status": "finished", "entries": {f"{label}/{t}": "done" for t in tasks},
                                   "updated": "2026-12-01T10:00:00Z"})  # fmt: skip
    (run_dir / "suite.yaml").write_text(f"models:\n  - label: {label}\ntasks: {tasks}\n", encoding="utf-8")
    for task in tasks:
        if task.startswith("futurebench"):
            lines = futurebench_samples(label, correct, ours=True, error_at=error_at, n=n)
            metrics = futurebench_metrics(lines)
        else:
            lines = twiff_samples(label, RUBRIC if provenance else JUDGE, n=min(n, N_TW))
            metrics = twiff_metrics(lines)
        _dump_lines(run_dir / "samples" / label / f"{task}.jsonl", lines)
        results = {
            "model": label,
            "task": task,
            "model_name": "future_l1",
            "model_args": f"pretrained=/ckpts/{label}",
            "metrics": metrics,
            "n_samples": len(lines),
            "config": {"max_new_tokens": 2048},
        }
        if provenance:
            judge = {"kind": "rubric", "model": RUBRIC["model"], "comparable": False} if "twiff" in task else {}
            total = N_TW if "twiff" in task else N_FB
            subset = {**provenance["subset"], "n": len(lines), "n_total": total} if len(lines) < total else {}
            prov = {**provenance, "judge": judge or provenance["judge"], "subset": subset or {"strategy": "all"}}
            results.update(schema_version=2, provenance=prov)
        _dump(run_dir / "results" / label / f"{task}.json", results)


def write_lmms_plain(out: Path) -> None:
    stamp = "20260101_000000"
    folder = out / "Org__Other-Model"
    lines = futurebench_samples("Org/Other-Model", lambda i: int(i % 3 != 0), ours=False, error_at=None)
    metrics = futurebench_metrics(lines)
    results = {
        "results": {
            "futurebench": {"alias": "futurebench", **{f"{k},none": v for k, v in metrics.items()}}
            | {"future_acc_stderr,none": "N/A"},
            "videomme": {"alias": "videomme", "videomme_perception_score,none": 55.5},
        },
        "n-samples": {
            "futurebench": {"original": N_FB, "effective": N_FB},
            "videomme": {"original": 4, "effective": 4},
        },
        "config": {"model": "qwen3_vl", "model_args": "pretrained=Org/Other-Model", "batch_size": "1"},
        "lmms_eval_version": "0.7.3",
        "model_name": "Org/Other-Model",
    }
    _dump(folder / f"{stamp}_results.json", results)
    _dump_lines(folder / f"{stamp}_samples_futurebench.jsonl", lines)


def write_trainer_state(path: Path) -> None:
    history = []
    for step in range(10, 210, 10):
        ce = 2.5 * 0.985**step + 0.3
        mse = 0.8 * 0.99**step + 0.05
        history.append(
            {
                "step": step,
                "epoch": step / 200,
                "loss": ce + 0.1 * mse,
                "ce_loss": ce,
                "latent_mse": mse,
                "learning_rate": 1e-5 * min(1.0, step / 50),
                "grad_norm": 1.0 + 0.5 * 0.99**step,
            }
        )
    history.append({"step": 200, "epoch": 1.0, "train_runtime": 123.4, "train_loss": 0.9, "total_flos": 1.0e12})
    _dump(path, {"global_step": 200, "log_history": history})


def main(root: Path = FIXTURES) -> None:
    write_run(root / "run_a", "tiny-a", correct_a, twiff=True, error_at=18)
    write_run(root / "run_b", "tiny-b", correct_b, twiff=False, error_at=None)
    write_run(root / "run_c", "tiny-c", correct_a, twiff=True, error_at=None, provenance=PROVENANCE_C, n=8)
    write_lmms_plain(root / "lmms_plain")
    write_trainer_state(root / "train_sft" / "trainer_state.json")


if __name__ == "__main__":
    main()
