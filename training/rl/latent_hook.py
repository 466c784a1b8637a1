"""Latent substitution for teacher-forced forwards: the input at every `<|latent|>` position is the recorded vector.

During a latent rollout the decoder feeds the previous step's (projected) post-norm hidden state as the input of
each latent step (model/decoder.py). A training forward over `prompt + completion` ids would instead embed the
`<|latent|>` token, so every text token after a span would be scored under a context that was never sampled. This
hook, registered on `model.get_input_embeddings()`, overwrites the embedding rows where `input_ids == <|latent|>`
with the recorded vectors, in row-major order. They are detached on purpose: they are the latent policy's actions,
as sampled token ids are the text policy's, and the gradient reaches the hidden states that produced them through
their κ-weighted log-prob in the loss (trainer.py), not through the inputs. It touches neither M-RoPE nor the vision
placeholders (those still come from `input_ids`), and it does not depend on the engine: the embedding module's forward runs under DDP,
DeepSpeed ZeRO-3 (parameters are gathered around it) and FSDP2 alike.

This is the first of the three alignment defects of the authors' RL that we do not copy (the authors'
`RL_v2/verl/workers/actor/dp_actor.py`):
their actor recomputation fed the `<|latent|>` embedding.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch


class LatentSubstitution:
    """`with sub.vectors(per_row):` makes the next embedding calls substitute `per_row[b]` ([n_b, H]) into row b."""

    def __init__(self, model, latent_id: int):
        self.latent_id = int(latent_id)
        self._rows: Sequence[torch.Tensor | None] | None = None
        self.calls = 0  # forwards that substituted at least one vector (tests and logs)
        self._handle = model.get_input_embeddings().register_forward_hook(self._hook)

    def remove(self) -> None:
        self._handle.remove()

    @contextlib.contextmanager
    def vectors(self, per_row: Sequence[torch.Tensor | None] | None) -> Iterator[None]:
        previous, self._rows = self._rows, per_row
        try:
            yield
        finally:
            self._rows = previous

    def _hook(self, module, args, output):
        if self._rows is None or not args or not isinstance(args[0], torch.Tensor):
            return output
        ids = args[0]
        if ids.dim() != 2 or ids.shape[0] != len(self._rows):  # e.g. a one-token decode step: not ours
            return output
        mask = ids == self.latent_id
        counts = mask.sum(-1).tolist()
        pieces = []
        for b, n in enumerate(counts):
            vec = self._rows[b]
            have = 0 if vec is None else int(vec.shape[0])
            if have != n:
                raise ValueError(f"row {b}: {n} <|latent|> positions but {have} recorded latent vectors")
            if n:
                pieces.append(vec)
        if not pieces:
            return output
        flat = torch.cat(pieces).to(device=output.device, dtype=output.dtype).detach()
        output = output.clone()
        output[mask] = flat
        self.calls += 1
        return output
