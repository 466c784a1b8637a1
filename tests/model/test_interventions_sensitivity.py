"""Sensitivity of the interventions (issue 29): a tiny model trained for a few steps so that its latents decide the
answer answers correctly unperturbed, and `shuffle` (each sample gets the other one's latents) flips its answers.

Two items, prompts "item one" / "item two", answers A / B. Training (plain torch, teacher forcing as latent SFT):
the prompt predicts `<|latent_start|>`; the span's positions predict the prompt item's target vector (the latent
loss); the answer after `<|latent_end|>` is the answer of the item whose vectors fill the span, for all four (prompt, latents)
combinations, so only the latents carry the answer.
"""

from __future__ import annotations

import pytest
import torch

from future_l1.model.decoder import GenerationSettings, LatentBudget, LatentDecoder
from future_l1.model.interventions import LatentIntervention
from future_l1.model.tokens import LatentIds

pytestmark = pytest.mark.integration
STEPS = 2  # latent steps per span


def _train(model, tok, ids: LatentIds, prompts, answers, targets, steps: int = 150):
    emb = model.get_input_embeddings()
    emb.weight.requires_grad_(False)  # (tied with lm_head) the 152k-row table stays; the layers learn, fast on CPU
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    model.train()
    for _ in range(steps):
        loss = 0.0
        for i, prompt in enumerate(prompts):
            for j in range(len(prompts)):  # prompt i, latents of item j: the answer is j's
                head = torch.tensor([*prompt, ids.start])
                tail = torch.tensor([ids.end])
                x = torch.cat([emb(head), targets[j].expand(STEPS, -1), emb(tail)])[None]
                h = model.model(
                    inputs_embeds=x, attention_mask=torch.ones(x.shape[:2], dtype=torch.long)
                ).last_hidden_state[0]
                n = len(prompt)
                logits = model.lm_head(h[[n - 1, x.shape[1] - 1]])
                loss = loss + torch.nn.functional.cross_entropy(logits, torch.tensor([ids.start, answers[j]]))
                # latent loss: the start and latent positions predict the prompt's item (as latent SFT's targets)
                loss = loss + ((h[n : n + STEPS] - targets[i]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def test_shuffle_flips_a_latent_reliant_model():
    from transformers import AutoTokenizer

    from future_l1.model.processor import qwen_tokenizer_dir
    from future_l1.model.tiny import build_tiny_model

    tok = AutoTokenizer.from_pretrained(qwen_tokenizer_dir())
    ids = LatentIds.from_tokenizer(tok)
    prompts = [tok("item one").input_ids, tok("item two").input_ids]
    assert len(prompts[0]) == len(prompts[1])
    answers = [tok.convert_tokens_to_ids("A"), tok.convert_tokens_to_ids("B")]
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(64, generator=gen)
    w = w / w.norm() * 8.0  # post-norm hidden states have norm about sqrt(64)
    torch.manual_seed(0)
    model = _train(build_tiny_model(seed=0), tok, ids, prompts, answers, [w, -w])

    decoder = LatentDecoder(model, tok, ids, LatentBudget(max_latent_token=STEPS, fixed=True))
    batch = {"input_ids": torch.tensor(prompts), "attention_mask": torch.ones(2, len(prompts[0]), dtype=torch.long)}

    def answer(intervention=None) -> list[int]:
        outs = decoder.generate(batch, GenerationSettings(max_new_tokens=STEPS + 3, intervention=intervention))
        for o in outs:
            assert o.span_lengths[:1] == [STEPS], o.token_ids
        return [o.token_ids[STEPS + 2] for o in outs]  # start, latents, end, then the answer

    assert answer() == answers
    assert answer(LatentIntervention("shuffle")) == answers[::-1]  # the answers follow the donor's latents
