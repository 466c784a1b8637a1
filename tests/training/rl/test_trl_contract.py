"""TRL is pinned exactly: the private GRPOTrainer methods LADAPOTrainer overrides or relies on must keep their
signatures and the batch keys we fill. A TRL upgrade that changes them fails here, not in a week-long run."""

from __future__ import annotations

import inspect

import trl
from trl import GRPOTrainer

from future_l1.training.rl.trainer import LADAPOTrainer

PINNED = "1.16.0"
SIGNATURES = {
    "_get_per_token_logps_and_entropies": [
        "self", "model", "input_ids", "attention_mask", "logits_to_keep", "batch_size", "compute_entropy",
        "compute_aux_loss", "pixel_values", "image_grid_thw", "num_images", "pixel_attention_mask", "spatial_shapes",
        "num_tiles", "image_sizes", "token_type_ids", "mm_token_type_ids", "image_position_ids",
    ],
    "_generate_and_score_completions": ["self", "inputs"],
    "compute_loss": ["self", "model", "inputs", "return_outputs", "num_items_in_batch"],
    "_compute_loss": ["self", "model", "inputs"],
    "log": ["self", "logs", "start_time"],
    "_save": ["self", "output_dir", "state_dict"],  # transformers' Trainer: the one-checkpoint-writer hook
}  # fmt: skip


def _params(fn) -> list[str]:
    return list(inspect.signature(fn).parameters)


def test_trl_is_the_pinned_version():
    assert trl.__version__ == PINNED, "re-check every override in training/rl/trainer.py, then update PINNED"


def test_overridden_signatures_match_trl():
    for name, params in SIGNATURES.items():
        assert _params(getattr(GRPOTrainer, name)) == params, f"GRPOTrainer.{name} changed"
        assert _params(getattr(LADAPOTrainer, name)) == params, f"LADAPOTrainer.{name} drifted from TRL"


def test_trl_still_reads_the_batch_keys_we_fill():
    loss_src = inspect.getsource(GRPOTrainer._compute_loss)
    for key in ("tool_mask", "old_per_token_logps", "ref_per_token_logps", "advantages", "num_items_in_batch"):
        assert f'"{key}"' in loss_src, key
    prep_src = inspect.getsource(GRPOTrainer._prepare_inputs)
    assert "self._generate_and_score_completions(" in prep_src and "shuffle_sequence_dict" in prep_src
