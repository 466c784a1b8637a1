"""Latent interventions (issue 29): perturb the vectors a latent-reasoning model feeds back, to ask whether its answers
depend on them. Applied inside both decoders (`model/decoder.py` and the CUDA-graph fast path `model/static_decoder.py`)
with the same tensor operations, so the eager and the fast path perturb identically.

Kinds (the `future_l1` adapter's `latent_intervention=` argument):
- `none`: nothing changes (bit for bit the unperturbed decoder);
- `zero`: every fed-back vector is replaced by zeros;
- `mean`: by the mean of the model's own fed-back vectors produced so far in the run (zeros before the first);
- `noise:σ`: x + σ·‖x‖·z/√H with z ~ N(0, I), so the noise has about σ times the vector's norm. z comes from a table
  of 1,024 seeded draws (`latent_intervention_seed`), indexed by the row's decoding step and its prompt length: the
  same sample gets the same noise in the eager and the fast path and whatever else is in its batch;
- `random`: every fed-back vector is replaced by ‖x‖·z/√H, a Gaussian vector of about the vector's own norm, from the
  same seeded table as `noise` (the content is gone, the scale the model expects is kept);
- `shuffle`: each row gets the vector another row of the batch produces at the same step: the next still-running row
  in batch (slot) order, cyclically. A row with no other running row (batch of 1, or the last one left) gets the
  vector the run's most recent earlier row produced at the same step (a donor bank indexed by the step); the first
  sample of a batch-1 run has no donor and keeps its own vectors;
- `budget:k`: every span is forced to exactly k latent steps (k = 0 closes a span at once); vectors are not touched.
Text after a span always decodes freely.

Everything in `apply` is a tensor operation on fixed-shape buffers (no host sync, no Python branch on data), so it is
captured in the fast decoder's CUDA graph; the run state (mean accumulator, donor bank) lives in fixed device tensors
that the graph updates in place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

KINDS = ("none", "zero", "mean", "noise", "random", "shuffle", "budget")
NOISE_TABLE = 1024  # distinct noise draws (rows of the table)
BANK_STEPS = 4096  # decoding steps the shuffle donor bank covers (later steps share the last entry)


class InterventionError(ValueError):
    """A `latent_intervention` value that does not parse."""


@dataclass(frozen=True)
class InterventionSpec:
    kind: str = "none"
    sigma: float = 0.0
    k: int = 0

    @classmethod
    def parse(cls, text: str | InterventionSpec | None) -> InterventionSpec:
        if isinstance(text, InterventionSpec):
            return text
        word = (text or "none").strip().lower()
        kind, _, arg = word.partition(":")
        if kind not in KINDS:
            raise InterventionError(f"unknown latent intervention {text!r}: expected one of none, zero, mean, "
                                    "noise:SIGMA, random, shuffle, budget:K")  # fmt: skip
        if kind == "noise":
            try:
                sigma = float(arg)
            except ValueError:
                raise InterventionError(f"latent intervention {text!r}: noise needs a scale, e.g. noise:0.5") from None
            if not math.isfinite(sigma) or sigma < 0:
                raise InterventionError(f"latent intervention {text!r}: the noise scale must be a finite number >= 0")
            return cls("noise", sigma=sigma)
        if kind == "budget":
            if not arg.isdigit():
                raise InterventionError(f"latent intervention {text!r}: budget needs a step count, e.g. budget:8")
            return cls("budget", k=int(arg))
        if arg:
            raise InterventionError(f"latent intervention {text!r}: {kind} takes no argument")
        return cls(kind)

    def __str__(self) -> str:
        if self.kind == "noise":
            return f"noise:{self.sigma:g}"
        if self.kind == "budget":
            return f"budget:{self.k}"
        return self.kind

    @property
    def touches_vectors(self) -> bool:
        return self.kind in ("zero", "mean", "noise", "random", "shuffle")


def span_budget(cap: int, fixed: bool, intervention: LatentIntervention | None) -> tuple[int, bool]:
    """The span cap and fixed flag the decoder uses: `budget:k` forces exactly k steps (0 allowed)."""
    if intervention is not None and intervention.spec.kind == "budget":
        return intervention.spec.k, True
    return cap, fixed


class LatentIntervention:
    """One run's intervention: its spec, seed and state (shared by every decoder call of the run)."""

    def __init__(self, spec: str | InterventionSpec, seed: int = 0):
        self.spec = InterventionSpec.parse(spec)
        self.seed = int(seed)
        self._state: dict | None = None

    def __repr__(self) -> str:
        return f"LatentIntervention({str(self.spec)!r}, seed={self.seed})"

    def state(self, device: torch.device, hidden: int, dtype: torch.dtype) -> dict:
        """The run's device buffers, made once (a session's CUDA graph holds their addresses)."""
        st = self._state
        if st is not None and st["device"] == device and st["hidden"] == hidden and st["dtype"] == dtype:
            return st
        gen = torch.Generator().manual_seed(self.seed)
        table = (
            torch.randn(NOISE_TABLE, hidden, generator=gen)
            if self.spec.kind in ("noise", "random")
            else torch.zeros(1, 1)
        )
        self._state = st = {
            "device": device, "hidden": hidden, "dtype": dtype,
            "noise": table.to(device),
            "sum": torch.zeros(hidden, dtype=torch.float32, device=device),
            "count": torch.zeros((), dtype=torch.float32, device=device),
            "bank": torch.zeros(BANK_STEPS if self.spec.kind == "shuffle" else 1, hidden, dtype=dtype, device=device),
            "bank_ok": torch.zeros(BANK_STEPS if self.spec.kind == "shuffle" else 1, dtype=torch.bool, device=device),
        }  # fmt: skip
        return st

    def mutable(self) -> list[torch.Tensor]:
        """Tensors `apply` updates in place (restored around a CUDA graph's warm-up run)."""
        st = self._state
        return [] if st is None else [st["sum"], st["count"], st["bank"], st["bank_ok"]]

    def apply(self, feed: torch.Tensor, emit: torch.Tensor, live: torch.Tensor, step: torch.Tensor,
              prompt_len: torch.Tensor) -> torch.Tensor:  # fmt: skip
        """The vectors to feed back. feed [B,H]: the model's own; emit [B]: rows feeding a latent back this step;
        live [B]: rows still decoding; step [B]: each row's decoding step; prompt_len [B]: each row's prompt tokens."""
        kind = self.spec.kind
        if not self.spec.touches_vectors:
            return feed
        B, H = feed.shape
        st = self.state(feed.device, H, feed.dtype)
        if kind == "zero":
            return torch.zeros_like(feed)
        if kind == "mean":
            mean = st["sum"] / st["count"].clamp(min=1.0)
            out = mean.to(feed.dtype)[None].expand(B, H)
            own = torch.where(emit[:, None], feed.float(), torch.zeros((), device=feed.device))
            st["sum"].add_(own.sum(0))
            st["count"].add_(emit.float().sum())
            return out
        if kind in ("noise", "random"):
            idx = (step + prompt_len * 7919) % st["noise"].shape[0]
            x = feed.float()
            draw = x.norm(dim=-1, keepdim=True) * st["noise"][idx] / math.sqrt(H)  # about x's norm
            return (x + self.spec.sigma * draw if kind == "noise" else draw).to(feed.dtype)
        # shuffle
        arange = torch.arange(B, device=feed.device)
        slot = step.clamp(min=0, max=st["bank"].shape[0] - 1)
        bank_vec, bank_has = st["bank"][slot], st["bank_ok"][slot]
        out = torch.where(bank_has[:, None], bank_vec, feed)
        if B > 1:
            cand = (arange[:, None] + torch.arange(1, B, device=feed.device)[None]) % B  # [B, B-1] in cyclic order
            ok = live[cand]
            first = ok.long().argmax(1)  # the first running row after this one
            donor = cand[arange, first]
            out = torch.where(ok.any(1)[:, None], feed[donor], out)
        # the bank remembers, per step, the vector of the last running row (read above before this write)
        # (1-element index tensors, not 0-d ones, which torch would read on the host)
        w = (live.long() * (arange + 1)).argmax().view(1)
        any_live = live.any().view(1)
        ws = slot[w]
        st["bank"].index_put_((ws,), torch.where(any_live[:, None], feed[w], st["bank"][ws]))
        st["bank_ok"].index_put_((ws,), st["bank_ok"][ws] | any_live)
        return out
