"""Small helpers shared by the FutureBench and TwiFF-Bench tasks."""

from __future__ import annotations

from future_l1.model.protocol import ERROR_PREFIX, FUTURE_L1_SYSTEM_PROMPT
from future_l1.model.tokens import latent_span_lengths


def future_l1_messages(media_type: str, visuals: list, text: str) -> list[dict]:
    """The `*_future_l1` chat layout: the Future-L1 system prompt, then the media items, then the question text."""
    media = [{"type": media_type, "url": v} for v in visuals]
    return [
        {"role": "system", "content": [{"type": "text", "text": FUTURE_L1_SYSTEM_PROMPT}]},
        {"role": "user", "content": [*media, {"type": "text", "text": text}]},
    ]


def model_error(response: str) -> str | None:
    """The model-side error message carried by `response`, or None for a normal response."""
    return response[len(ERROR_PREFIX) :].strip() or "unknown model error" if response.startswith(ERROR_PREFIX) else None


def latent_spans(response: str) -> list[int]:
    """Latent steps per span, recovered from the decoded text (special tokens are kept by the adapter)."""
    return latent_span_lengths(response)


def first_response(results: list) -> str:
    """lmms-eval hands `process_results` a list with one response per request; be lenient about its shape."""
    if not results:
        return ""
    value = results[0]
    if isinstance(value, (list, tuple)):
        value = value[0] if value else ""
    return value if isinstance(value, str) else str(getattr(value, "text", value))


def pct(numerator: float, denominator: int) -> float:
    return 100.0 * numerator / denominator if denominator else 0.0


def earlier_duplicates(keys: list) -> dict[int, int]:
    """{position: position of the first equal key} for every key that repeats an earlier one (None keys never do)."""
    first: dict = {}
    repeats = {}
    for i, key in enumerate(keys):
        if key is None:
            continue
        if key in first:
            repeats[i] = first[key]
        else:
            first[key] = i
    return repeats
