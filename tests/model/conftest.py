"""Fixtures for the model tests: a tiny random Qwen3-VL with sharpened weights, its processor, random videos."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="session")
def tiny_processor(tiny_ckpt):
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(tiny_ckpt)


@pytest.fixture(scope="session")
def sharp_model(tiny_ckpt):
    """The tiny checkpoint with larger weights, so that argmax choices are decisive and depend on every input
    (a position or embedding error changes the tokens instead of vanishing in a flat distribution)."""
    from transformers import Qwen3VLForConditionalGeneration

    model = Qwen3VLForConditionalGeneration.from_pretrained(tiny_ckpt).eval()
    with torch.no_grad():
        gen = torch.Generator().manual_seed(0)
        for name, p in model.model.language_model.named_parameters():
            if p.ndim == 2 and "embed" not in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.2)
        model.get_input_embeddings().weight.mul_(20)
    return model
