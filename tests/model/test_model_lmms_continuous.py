"""The adapter's continuous batching (fast decoder) gives the eager adapter's answers and token counts, per request."""

from __future__ import annotations

import pytest
from test_model_lmms_plugin import _forcer, _requests, videos  # noqa: F401  (fixture)

from future_l1.model.tokens import latent_span_lengths


@pytest.fixture(scope="module")
def adapters(tiny_ckpt):
    from future_l1.model.lmms_model import FutureL1

    kw = dict(pretrained=str(tiny_ckpt), batch_size=2, max_num_frames=4, min_pixels=4 * 32 * 32, max_pixels=64 * 64)
    return FutureL1(decoder="eager", **kw), FutureL1(decoder="fast", **kw)


def test_continuous_batching_matches_eager(adapters, videos):  # noqa: F811
    eager, fast = adapters
    assert fast.fast and not eager.fast
    # 5 requests over 2 slots: rows finish at different steps (EOS, stop string, length) and later ones join mid-run
    docs = [{"video": videos[k], "q": f"What happens next? {i}"}
            for i, k in enumerate(("bounce", "collide", "fall", "bounce", "missing"))]  # fmt: skip
    gen = {"max_new_tokens": 14, "until": ["</answer>"]}
    for lmm in (eager, fast):
        lmm.logits_processor = _forcer(lmm)
    ref = eager.generate_until(_requests(eager, docs, gen))
    got = fast.generate_until(_requests(fast, docs, gen))
    assert [r.text for r in got] == [r.text for r in ref]
    assert [r.token_counts for r in got] == [r.token_counts for r in ref]
    assert got[-1].text.startswith("[future-l1 error]")  # the missing video is answered, the others still run
    assert all(latent_span_lengths(r.text) for r in got[:-1])  # the spans are real
    assert fast._fast_decoder is not None and fast._fast_decoder.last_stats.slots == 2
    assert fast._fast_decoder.last_session is None  # the cache is released when the group is done
