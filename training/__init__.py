"""Future-L1 training: SFT data (Future-L1-50K / TwiFF), visual-gain selection, latent-aligned SFT."""

from __future__ import annotations

from pathlib import Path


def demo_checkpoint() -> Path:
    """A tiny Future-L1 checkpoint trained by our SFT pipeline on the demo training set (cached after first use)."""
    from future_l1.training.sft import demo_checkpoint as build

    return build()


__all__ = ["demo_checkpoint"]
