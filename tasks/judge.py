"""The LLM judge as a configured role: one config, retries, a disk cache, bounded concurrency.

Configuration lives in ONE place, `JudgeConfig.from_env()`:

| variable                        | default                        | meaning                                      |
|---------------------------------|--------------------------------|----------------------------------------------|
| FUTURE_L1_JUDGE_BASE_URL        | unset = embedded rubric judge  | OpenAI-compatible root, e.g. http://h:8000/v1 |
| FUTURE_L1_JUDGE_MODEL           | required with a base URL       | judge model name (pin it: results depend on it) |
| FUTURE_L1_JUDGE_API_KEY         | "EMPTY"                        | bearer token (never written anywhere)         |
| FUTURE_L1_JUDGE_TEMPERATURE     | 0.0                            | official TwiFF value                          |
| FUTURE_L1_JUDGE_MAX_TOKENS      | 1024                           | official TwiFF value                          |
| FUTURE_L1_JUDGE_TIMEOUT         | 120 (s)                        | total deadline of one HTTP call (also _S)     |
| FUTURE_L1_JUDGE_ATTEMPTS        | 4                              | calls per sample before it counts as failed   |
| FUTURE_L1_JUDGE_BACKOFF         | 1.0 (s)                        | first backoff; exponential with jitter, ≤ 30 s |
| FUTURE_L1_JUDGE_CONCURRENCY     | 4                              | judge calls in flight per process             |
| FUTURE_L1_JUDGE_TEXT_ONLY       | 0                              | 1 = no images sent (official JUDGE_TEXT_ONLY)  |
| FUTURE_L1_JUDGE_CACHE           | 1                              | 0 = do not read/write the disk cache           |

These variables are the fallback for plain `lmms-eval` CLI runs. `future-l1 run` passes the suite's judge role
in-process instead (`JudgeRole` → `active_config()`); only the API key still comes from FUTURE_L1_JUDGE_API_KEY,
because secrets never go in suite files (a role holding one is refused).

Without a base URL the deterministic rubric judge (`judge_server`) is started on loopback; its numbers are not
comparable with an LLM judge's, and `public()` says so ("comparable": false).

Retries use tenacity (already a dependency of lmms-eval): we must also retry on *our* validation failures
(unparseable JSON, a missing or out-of-range score), which the openai/httpx built-in retries cannot see; HTTP goes
in a fresh event loop per call under `asyncio.wait_for`: httpx's timeout bounds each socket read, so a judge that
drips its reply byte by byte would never time out; the deadline bounds the whole call (connect, headers, body).
HTTP 400/401/403/404/405/422 are not retried (a wrong key, URL or model does not heal). Concurrency: lmms-eval runs `process_results` in a thread pool
(`--process_docs_parallel`, default 4); a semaphore bounds the calls actually in flight. Answers are cached on disk
under `cache_root()/judge_cache`, keyed by the judge's identity (model, endpoint without credentials, prompt version,
decoding settings) and the full messages, so a re-run does not pay twice and another judge never reuses its scores.

A reply is untrusted: its body is read up to `Judge.reply_cap()` bytes after decompression (inflated here, with a
bound), the secrets of the config (API key, URL credentials, the Basic header built from them) are cut out of it
before it is parsed or stored (`JudgeConfig.redact`), the scores must be exactly two whole numbers in 0-5
(`coerce_scores`) and the reasoning is capped (`cap_reasoning`). Deviations from the official code: it excluded
failures silently (we count them) and rounded fractional scores (they are failed judgements here).
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextlib
import hashlib
import json
import math
import os
import re
import threading
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, quote_plus, unquote, urlencode, urlsplit, urlunsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from future_l1.model.cache import cache_root
from future_l1.model.untrusted import parse_json, read_json
from future_l1.tasks.judge_server import RUBRIC_MODEL, ChatServer, rubric_judge
from future_l1.tasks.prompts import JUDGE_PROMPT_VERSION

SCORE_RANGE = (0, 5)
MAX_REASONING_CHARS = 8_000  # ~2,000 tokens, twice the official judge's max_tokens
MIN_REPLY_BYTES = 1 << 20  # a judge reply's body, after decompression: max(1 MiB, 32 bytes per allowed token)
NOT_RETRIED = (400, 401, 403, 404, 405, 422)  # a wrong key, URL, model or request: retrying cannot help
SECRET_PARAM = re.compile(r"key|token|secret|pass|auth|sig|credential|session|bearer", re.I)  # URL query names
SECRET_FIELD = re.compile(r"(^|_)(api_?key|key|token|secret|password|passwd|bearer|authorization)$", re.I)


class JudgeError(Exception):
    """The judge could not produce a valid verdict (after retries)."""


class JudgeAnswerError(JudgeError):
    """The judge answered, but not with valid JSON holding two scores in range."""


@dataclass(frozen=True)
class JudgeConfig:
    base_url: str | None = None  # None = the embedded rubric judge
    model: str = RUBRIC_MODEL
    api_key: str = field(default="EMPTY", repr=False)
    temperature: float = 0.0
    max_tokens: int = 1024
    timeout_s: float = 120.0
    attempts: int = 4
    backoff_s: float = 1.0
    backoff_max_s: float = 30.0
    concurrency: int = 4
    text_only: bool = False
    cache: bool = True
    prompt_version: str = JUDGE_PROMPT_VERSION

    @classmethod
    def from_env(cls) -> JudgeConfig:
        """The config from FUTURE_L1_JUDGE_* (plain lmms-eval runs); a malformed value names its variable."""
        env = os.environ.get
        base_url = (env("FUTURE_L1_JUDGE_BASE_URL") or "").strip().rstrip("/") or None
        if base_url and base_url.endswith("/chat/completions"):
            base_url = base_url[: -len("/chat/completions")]
        model = (env("FUTURE_L1_JUDGE_MODEL") or "").strip()
        if base_url and not model:
            raise ValueError("FUTURE_L1_JUDGE_BASE_URL is set but FUTURE_L1_JUDGE_MODEL is not: pin the judge model.")
        return cls(
            base_url=base_url,
            model=model or RUBRIC_MODEL,
            api_key=env("FUTURE_L1_JUDGE_API_KEY") or "EMPTY",
            temperature=_env_number("FUTURE_L1_JUDGE_TEMPERATURE", 0.0, float, low=0.0),
            max_tokens=_env_number("FUTURE_L1_JUDGE_MAX_TOKENS", 1024, int, low=1),
            timeout_s=_env_number(
                "FUTURE_L1_JUDGE_TIMEOUT", _env_number("FUTURE_L1_JUDGE_TIMEOUT_S", 120.0, float), float, low=1e-3
            ),
            attempts=_env_number("FUTURE_L1_JUDGE_ATTEMPTS", 4, int, low=1),
            backoff_s=_env_number("FUTURE_L1_JUDGE_BACKOFF", 1.0, float, low=0.0),
            concurrency=_env_number("FUTURE_L1_JUDGE_CONCURRENCY", 4, int, low=1),
            text_only=(env("FUTURE_L1_JUDGE_TEXT_ONLY") or "0").lower() in {"1", "true", "yes"},
            cache=(env("FUTURE_L1_JUDGE_CACHE") or "1").lower() not in {"0", "false", "no"},
        )

    @property
    def provider(self) -> str:
        return "rubric" if self.base_url is None or self.model == RUBRIC_MODEL else "openai-compatible"

    def public(self) -> dict:
        """What every per-sample result records about the judge (never the API key, never URL credentials)."""
        return {
            "provider": self.provider,
            "base_url": public_url(self.base_url),
            "model": self.model,
            "prompt_version": self.prompt_version,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "text_only": self.text_only,
            "comparable": self.provider != "rubric",
        }

    def secrets(self) -> list[str]:
        """Every secret this config sends: the API key, the password (or bare token) in the base URL, the Basic
        header httpx builds from them, secret-looking query values; longest first."""
        found = [self.api_key] if self.api_key != "EMPTY" else []
        parts = urlsplit(self.base_url or "")
        if parts.username is not None:
            user, password = unquote(parts.username), unquote(parts.password or "")
            found += [parts.username, user, base64.b64encode(f"{user}:{password}".encode()).decode()]
            if parts.password:
                found += [parts.password, password]
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            if SECRET_PARAM.search(key) and value:
                found += [value, quote_plus(value)]
        return sorted({s for s in found if len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        """`text` with every secret of `secrets()` replaced (a judge may echo the Authorization header)."""
        for secret in self.secrets():
            mark = "[REDACTED]" if secret not in "[REDACTED]" else "[SECRET REMOVED]"
            while secret in text:  # a replacement can form a new match with the text after it; each pass shortens that
                text = text.replace(secret, mark)
        return text


def public_url(url: str | None) -> str:
    """`url` fit to be written down: credentials (user:password@) dropped, secret-looking query values replaced by
    REDACTED, the fragment dropped; "embedded" for the embedded rubric judge."""
    if not url:
        return "embedded"
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        if parts.port is not None:
            host += f":{parts.port}"
    except ValueError:  # a malformed port or address: nothing of it is shown
        return "invalid-url"
    query = [
        (k, "REDACTED" if SECRET_PARAM.search(k) else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit((parts.scheme, host, parts.path, urlencode(query), ""))


def _env_number(name: str, default, kind, low: float | None = None):
    """A numeric FUTURE_L1_JUDGE_* variable; a malformed or out-of-range value raises a ValueError naming it."""
    text = (os.environ.get(name) or "").strip()
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not a valid {kind.__name__}") from None
    if (isinstance(value, float) and not math.isfinite(value)) or (low is not None and value < low):
        raise ValueError(f"{name}={text!r} is out of range (must be a finite number >= {low})")
    return value


class JudgeRole(BaseModel):
    """A judge role as written in a suite's `judges:` block (validated; unknown keys and secrets are refused).

    provider `offline` (the default without base_url) = the embedded rubric judge; `openai` = any OpenAI-compatible
    endpoint, which needs `base_url` and a pinned `model`. The API key is never part of a role: it comes from
    FUTURE_L1_JUDGE_API_KEY, so that suite files, run directories and logs can be shared."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: Literal["offline", "openai"] | None = None
    base_url: str | None = None
    model: str | None = None
    temperature: float = Field(0.0, ge=0.0, le=2.0, allow_inf_nan=False)
    max_tokens: int = Field(1024, ge=1, le=1_000_000)
    timeout_s: float = Field(120.0, gt=0.0, le=86_400.0, allow_inf_nan=False)
    attempts: int = Field(4, ge=1, le=50)
    backoff_s: float = Field(1.0, ge=0.0, le=3600.0, allow_inf_nan=False)
    concurrency: int = Field(4, ge=1, le=1024)
    text_only: bool = False
    cache: bool = True

    @model_validator(mode="before")
    @classmethod
    def _no_secrets(cls, data):
        if isinstance(data, dict):
            for key in data:
                if isinstance(key, str) and SECRET_FIELD.search(key):
                    raise ValueError(
                        f"`{key}` does not belong in a suite file (it would be copied into the run directory); "
                        "export FUTURE_L1_JUDGE_API_KEY instead"
                    )
        return data

    @model_validator(mode="after")
    def _consistent(self) -> JudgeRole:
        provider = self.provider or ("openai" if self.base_url else "offline")
        if provider == "offline" and (self.base_url or self.model):
            raise ValueError("provider 'offline' is the embedded rubric judge: leave out base_url and model")
        if provider == "openai":
            if not self.base_url or not re.match(r"^https?://[^/\s]+", self.base_url):
                raise ValueError("provider 'openai' needs base_url: http(s)://host[:port]/v1")
            if not self.model:
                raise ValueError("provider 'openai' needs `model:` (pin the judge model: results depend on it)")
        object.__setattr__(self, "provider", provider)
        return self

    def to_config(self, api_key: str | None = None) -> JudgeConfig:
        """The runtime config; the key comes from the argument or FUTURE_L1_JUDGE_API_KEY, never from the suite."""
        base_url = (self.base_url or "").strip().rstrip("/") or None
        if base_url and base_url.endswith("/chat/completions"):
            base_url = base_url[: -len("/chat/completions")]
        return JudgeConfig(
            base_url=base_url if self.provider == "openai" else None,
            model=self.model or RUBRIC_MODEL,
            api_key=api_key or os.environ.get("FUTURE_L1_JUDGE_API_KEY") or "EMPTY",
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            timeout_s=self.timeout_s,
            attempts=self.attempts,
            backoff_s=self.backoff_s,
            concurrency=self.concurrency,
            text_only=self.text_only,
            cache=self.cache,
        )


_active: JudgeConfig | None = None


@contextlib.contextmanager
def active_config(config: JudgeConfig | None) -> Iterator[None]:
    """Make `config` the judge of the tasks for the duration (a harness passes a suite's role in-process).

    Process-wide on purpose: lmms-eval calls `process_results` from its own thread pool. None = the environment."""
    global _active
    saved, _active = _active, config
    try:
        yield
    finally:
        _active = saved


def current_config() -> JudgeConfig:
    """The judge the tasks use now: the active role if a harness set one, else FUTURE_L1_JUDGE_* variables."""
    return _active if _active is not None else JudgeConfig.from_env()


@dataclass
class Verdict:
    cot: int
    answer: int
    reasoning: str
    cached: bool = False


def coerce_scores(score) -> tuple[int, int]:
    """The two scores of a verdict, exactly: `score` must hold two whole numbers in 0-5 (judges write [3, 4], [[3, 4]]
    or ["3", 4.0]). A fraction (5.4, 2.5), a third number, NaN, a word or a dict is a failed judgement, never rounded
    or truncated (the authors round floats and take the first two of any list: README, deviations)."""
    found: list[int] = []
    stack = [score]
    while stack:  # depth first, left to right, without recursion
        x = stack.pop()
        if isinstance(x, (list, tuple)):
            stack.extend(reversed(x))
            continue
        value = _whole_number(x)
        if value is None:
            raise JudgeAnswerError(f"judge score {_clip(x)} is not a whole number in {list(SCORE_RANGE)}: "
                                   f"{_clip(score)}")  # fmt: skip
        found.append(value)
        if len(found) > 2:
            break
    if len(found) != 2:
        raise JudgeAnswerError(f"judge 'score' must hold exactly two numbers [reasoning, answer], got {_clip(score)}")
    pair = (found[0], found[1])
    if not all(SCORE_RANGE[0] <= s <= SCORE_RANGE[1] for s in pair):
        raise JudgeAnswerError(f"judge scores {list(pair)} out of range {list(SCORE_RANGE)}")
    return pair


def _whole_number(x) -> int | None:
    """An int, an integral finite float (4.0) or the text of one ("4", " 4.0 "); None for anything else."""
    if isinstance(x, bool):
        return None
    if isinstance(x, str):
        try:
            x = float(x.strip()) if len(x) < 40 else None
        except ValueError:
            return None
    if isinstance(x, int):
        return x
    if isinstance(x, float) and math.isfinite(x) and x.is_integer():
        return int(x)
    return None


def _clip(value, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_verdict(content: str | None) -> Verdict:
    if content is not None and not isinstance(content, str):
        raise JudgeAnswerError(f"judge message content is not text: {type(content).__name__}")
    if not content or not content.strip():
        raise JudgeAnswerError("judge returned an empty message")
    try:
        obj = json.loads(content)
    except (json.JSONDecodeError, RecursionError):
        match = re.search(r"\{.*\}", content, re.DOTALL)  # tolerate ```json fences / chatter around the object
        try:
            obj = json.loads(match.group(0)) if match else None
        except (json.JSONDecodeError, RecursionError):
            obj = None
    if not isinstance(obj, dict) or "score" not in obj:
        raise JudgeAnswerError(f"judge did not return a JSON object with 'score': {content[:200]!r}")
    cot, answer = coerce_scores(obj["score"])
    reasoning = obj.get("reasoning", "")
    return Verdict(cot, answer, cap_reasoning(reasoning if isinstance(reasoning, str) else json.dumps(reasoning)))


def cap_reasoning(text: str, limit: int = MAX_REASONING_CHARS) -> str:
    """A judge's reasoning, cut to `limit` characters (a judge controls its length; it is stored with every sample)."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]} [… {len(text) - limit:,} more characters cut]"


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, httpx.HTTPStatusError):
        code = exc.response.status_code
        return code in (408, 409, 429) or code >= 500
    return isinstance(exc, (httpx.TransportError, httpx.TimeoutException, JudgeAnswerError))


class ReplyTooLarge(JudgeAnswerError):
    """A judge reply above the byte cap (counted after decompression): refused before it is read in full."""


class Judge:
    """Thread-safe judge client for one config."""

    def __init__(self, config: JudgeConfig, *, base_url: str | None = None) -> None:
        self.config = config
        self.base_url = base_url or config.base_url
        if self.base_url is None:
            raise ValueError("Judge needs a base URL; use get_judge() for the embedded rubric judge")
        self._slots = threading.BoundedSemaphore(config.concurrency)

    def cache_key(self, messages: list[dict]) -> str:
        """The judge's identity (model, endpoint without credentials, prompt version, decoding) and the messages: a
        different judge never reuses another's cached scores."""
        c = self.config
        payload = {"model": c.model, "base_url": public_url(c.base_url), "prompt_version": c.prompt_version,
                   "temperature": c.temperature, "max_tokens": c.max_tokens, "text_only": c.text_only,
                   "messages": messages}  # fmt: skip
        return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    def _cache_path(self, key: str) -> Path:
        return cache_root() / "judge_cache" / key[:2] / f"{key}.json"

    def score(self, messages: list[dict]) -> Verdict:
        """A valid verdict, from the cache or the judge; raises JudgeError after the configured attempts."""
        key = self.cache_key(messages)
        path = self._cache_path(key)
        if self.config.cache and path.is_file():
            cached = self._read_cached(path)
            if cached is not None:
                return cached
        verdict = self._call_with_retries(messages)
        if self.config.cache:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(json.dumps({**asdict(verdict), "cached": False, "judge": self.config.public()}))
            os.replace(tmp, path)
        return verdict

    def _read_cached(self, path: Path) -> Verdict | None:
        """A cache entry held to the same rules as a fresh reply; a corrupt one is None (simply recomputed)."""
        try:
            data = read_json(path, what="judge cache entry", max_bytes=self.reply_cap())
            cot, answer = coerce_scores([data["cot"], data["answer"]])
            reasoning = data.get("reasoning", "")
            reasoning = self.config.redact(reasoning if isinstance(reasoning, str) else json.dumps(reasoning))
            return Verdict(cot, answer, cap_reasoning(reasoning), cached=True)
        except (ValueError, KeyError, TypeError, JudgeError):  # unreadable, or scores that are not exact
            return None

    def reply_cap(self) -> int:
        return max(MIN_REPLY_BYTES, 32 * self.config.max_tokens)

    def _call_with_retries(self, messages: list[dict]) -> Verdict:
        c = self.config
        retrying = Retrying(
            stop=stop_after_attempt(c.attempts),
            wait=wait_exponential_jitter(initial=c.backoff_s, max=c.backoff_max_s, jitter=c.backoff_s),
            retry=retry_if_exception(_retryable),
            reraise=True,
        )
        try:
            return retrying(self._call_once, messages)
        except JudgeAnswerError as exc:
            n = retrying.statistics.get("attempt_number", c.attempts)
            raise JudgeAnswerError(f"{exc} ({n} attempt(s))") from exc
        except JudgeError:
            raise
        except httpx.HTTPStatusError as exc:
            code = exc.response.status_code
            n = retrying.statistics.get("attempt_number", c.attempts)
            if code in NOT_RETRIED:
                hint = {401: "check FUTURE_L1_JUDGE_API_KEY", 403: "check FUTURE_L1_JUDGE_API_KEY and its rights",
                        404: "check the judge base_url (…/v1) and model"}.get(code, "check the judge settings")  # fmt: skip
                raise JudgeError(f"judge HTTP {code}, not retried ({hint})") from exc
            raise JudgeError(f"judge HTTP {code} after {n} attempt(s)") from exc
        except httpx.TimeoutException as exc:
            n = retrying.statistics.get("attempt_number", c.attempts)
            raise JudgeError(f"judge timed out after {c.timeout_s:g} s ({n} attempt(s))") from exc
        except httpx.HTTPError as exc:
            reason = c.redact(f"{type(exc).__name__}: {exc}")
            raise JudgeError(f"judge unreachable at {public_url(self.base_url)}: {reason}") from exc

    def _call_once(self, messages: list[dict]) -> Verdict:
        """One call. Everything the judge sends back is untrusted: the body is read up to `reply_cap()` bytes
        (after decompression), known secrets are cut out of it before anything is parsed or stored."""
        c = self.config
        body = {"model": c.model, "messages": messages, "temperature": c.temperature, "max_tokens": c.max_tokens,
                "response_format": {"type": "json_object"}}  # fmt: skip
        headers = {"Authorization": f"Bearer {c.api_key}"}
        url = f"{self.base_url}/chat/completions"
        with self._slots:
            status, data = asyncio.run(_post_with_deadline(url, body, headers, c.timeout_s, self.reply_cap()))
        if not 200 <= status < 300:
            request = httpx.Request("POST", public_url(url))
            raise httpx.HTTPStatusError(f"judge HTTP {status}", request=request, response=httpx.Response(status))
        text = c.redact(data.decode("utf-8", errors="replace"))
        try:
            content = parse_json(text, where="judge reply")["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise JudgeAnswerError(f"not an OpenAI chat-completions response: {text[:200]!r}") from exc
        verdict = parse_verdict(c.redact(content) if isinstance(content, str) else content)
        verdict.reasoning = c.redact(verdict.reasoning)  # again after JSON unescaping (parse_verdict capped it)
        return verdict


async def _post_with_deadline(url: str, body: dict, headers: dict, deadline_s: float,
                              max_bytes: int) -> tuple[int, bytes]:  # fmt: skip
    """POST and read the whole reply within `deadline_s` in total (httpx alone bounds each read, not the call), and
    at most `max_bytes` of body after decompression: (status, body)."""
    async with httpx.AsyncClient(timeout=deadline_s) as client:

        async def fetch() -> tuple[int, bytes]:
            headers_out = {**headers, "Accept-Encoding": "gzip, deflate"}
            async with client.stream("POST", url, json=body, headers=headers_out) as response:
                return response.status_code, await _read_bounded(response, max_bytes)

        try:
            return await asyncio.wait_for(fetch(), deadline_s)
        except TimeoutError:
            raise httpx.TimeoutException(f"no complete reply within {deadline_s:g} s") from None


async def _read_bounded(response: httpx.Response, max_bytes: int) -> bytes:
    """The body, decompressed here with a bound on the output (httpx would inflate a whole chunk at once: a 64 KB
    gzip chunk can hold 64 MB); more than `max_bytes`, compressed or not, raises ReplyTooLarge."""
    too_large = f"judge reply is larger than {max_bytes:,} bytes; refused"
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise ReplyTooLarge(too_large)
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("gzip", "x-gzip"):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        inflater = zlib.decompressobj()
    elif encoding in ("", "identity"):
        inflater = None
    else:
        raise JudgeAnswerError(f"judge reply uses content-encoding {encoding[:40]!r}; only gzip and deflate are read")
    out, raw = bytearray(), 0
    try:
        async for chunk in response.aiter_raw():
            raw += len(chunk)
            if inflater is None:
                out += chunk
            else:
                out += inflater.decompress(chunk, max_bytes + 1 - len(out))
                if inflater.unconsumed_tail:  # the output limit was reached with input left
                    raise ReplyTooLarge(too_large)
            if raw > max_bytes or len(out) > max_bytes:
                raise ReplyTooLarge(too_large)
        if inflater is not None:
            out += inflater.flush()
    except zlib.error as exc:
        raise JudgeAnswerError(f"judge reply is not valid {encoding} data ({exc})") from None
    if len(out) > max_bytes:
        raise ReplyTooLarge(too_large)
    return bytes(out)


_judges: dict[JudgeConfig, Judge] = {}
_embedded: ChatServer | None = None
_lock = threading.Lock()


def embedded_rubric_url() -> str:
    """Base URL of the process-wide rubric judge, started on first use and stopped at exit."""
    global _embedded
    with _lock:
        if _embedded is None or not _embedded.running:
            _embedded = rubric_judge().start()
            atexit.register(_embedded.stop)
        return _embedded.base_url


def get_judge(config: JudgeConfig | None = None) -> Judge:
    """The shared Judge for `config` (default: from the environment); thread-safe."""
    config = config or current_config()
    base_url = config.base_url or embedded_rubric_url()
    with _lock:
        judge = _judges.get(config)
        if judge is None or judge.base_url != base_url:
            judge = _judges[config] = Judge(config, base_url=base_url)
        return judge
