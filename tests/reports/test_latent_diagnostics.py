"""Latent diagnostics (issue 29) from saved latent files, with known vectors."""

from __future__ import annotations

import numpy as np
import pytest

from future_l1.reports.latent_diagnostics import diagnostics, diagnostics_markdown


def write(folder, doc, split, latents, spans, next_embeds=None):
    extra = {} if next_embeds is None else {"next_embeds": np.asarray(next_embeds, dtype=np.float16)}
    np.savez(folder / f"fb__{split}__{doc}__rank0.npz", latents=np.asarray(latents, dtype=np.float16),
             span_lengths=np.asarray(spans, dtype=np.int32), **extra)  # fmt: skip


def test_diagnostics_per_split(tmp_path):
    e0, e1 = [1.0, 0.0], [0.0, 1.0]
    # doc 0: one span of 3 steps (e0, e0, e1): cosines 1 and 0; last latent e1 vs next token e1: 1; norms 1
    write(tmp_path, 0, "hop1", [e0, e0, e1], [3], [e1])
    # doc 1: two spans of 1 step ([2, 0] and [0, 2]); next tokens: -e0 and missing (NaN)
    write(tmp_path, 1, "hop2", [[2.0, 0.0], [0.0, 2.0]], [1, 1], [[-1.0, 0.0], [np.nan, np.nan]])
    # doc 2: no span at all; an old file without next_embeds
    write(tmp_path, 2, "hop2", np.zeros((0, 2)), [])
    d = diagnostics(tmp_path, "fb", {0: "hop1", 1: "hop2", 2: "hop2"})
    assert list(d) == ["all", "hop1", "hop2"]
    assert d["hop1"] == pytest.approx({"samples": 1, "spans_per_sample": 1, "span_length": 3, "latent_norm": 1,
                                       "cos_consecutive": 0.5, "cos_last_next_token": 1.0})  # fmt: skip
    assert d["hop2"]["samples"] == 2 and d["hop2"]["spans_per_sample"] == 1.0  # (2 + 0) / 2
    assert d["hop2"]["latent_norm"] == pytest.approx(2.0)
    assert d["hop2"]["cos_last_next_token"] == pytest.approx(-1.0)  # the NaN next token is left out
    assert "cos_consecutive" not in d["hop2"]  # no span with two steps
    assert d["all"]["samples"] == 3 and d["all"]["cos_last_next_token"] == pytest.approx(0.0)
    text = diagnostics_markdown([("m", "fb", d)])
    assert "Latent diagnostics" in text and "| m | fb | hop1 |" in text
    assert diagnostics(tmp_path, "other") == {}
