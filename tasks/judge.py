"""The LLM judge as a configured role: one config, retries, a disk cache, bounded concurrency.

Configuration lives in ONE place, `JudgeConfig.from_env()`:

| variable                        | default                        | meaning                                      |
|---------------------------------|--------------------------------|----------------------------------------------|
| FUTURE_L1_JUDGE_BASE_URL        | unset = embedded rubric judge  | OpenAI-compatible root, e.g. http://h:8000/v1 |
| FUTURE_L1_JUDGE_MODEL           | required with a base URL       | judge model name (pin it: results depend on it) |
| FUTURE_L1_JUDGE_API_KEY         | "EMPTY"                        | bearer token (never written anywhere)         |
| FUTURE_L1_JUDGE_TEMPERATURE     | 0.0                            | official TwiFF value                          |
| FUTURE_L1_JUDGE_MAX_TOKENS      | 1024                           | official TwiFF value                          |
| FUTURE_L1_JUDGE_TIMEOUT         | 120 (s)                        | per HTTP call                                 |
| FUTURE_L1_JUDGE_ATTEMPTS        | 4                              | calls per sample before it counts as failed   |
| FUTURE_L1_JUDGE_BACKOFF         | 1.0 (s)                        | first backoff; exponential with jitter, ≤ 30 s |
| FUTURE_L1_JUDGE_CONCURRENCY     | 4                              | judge calls in flight per process             |
| FUTURE_L1_JUDGE_TEXT_ONLY       | 0                              | 1 = no images sent (official JUDGE_TEXT_ONLY)  |
| FUTURE_L1_JUDGE_CACHE           | 1                              | 0 = do not read/write the disk cache           |

Without a base URL the deterministic rubric judge (`judge_server`) is started on loopback; its numbers are not
comparable with an LLM judge's, and `public()` says so ("comparable": false).

Retries use tenacity (already a dependency of lmms-eval): we must also retry on *our* validation failures
(unparseable JSON, a missing or out-of-range score), which the openai/httpx built-in retries cannot see; HTTP goes
through one thread-safe `httpx.Client`. Concurrency: lmms-eval runs `process_results` in a thread pool
(`--process_docs_parallel`, default 4); a semaphore bounds the calls actually in flight. Answers are cached on disk
under `cache_root()/judge_cache`, keyed by judge model, prompt version, decoding settings and the full messages, so a
re-run does not pay twice. Deviation from the official code: it excluded failures silently; we count them.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import re
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from future_l1.tasks.judge_server import RUBRIC_MODEL, ChatServer, rubric_judge
from future_l1.tasks.prompts import JUDGE_PROMPT_VERSION

SCORE_RANGE = (0, 5)


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
            temperature=float(env("FUTURE_L1_JUDGE_TEMPERATURE") or 0.0),
            max_tokens=int(env("FUTURE_L1_JUDGE_MAX_TOKENS") or 1024),
            timeout_s=float(env("FUTURE_L1_JUDGE_TIMEOUT") or 120.0),
            attempts=max(1, int(env("FUTURE_L1_JUDGE_ATTEMPTS") or 4)),
            backoff_s=float(env("FUTURE_L1_JUDGE_BACKOFF") or 1.0),
            concurrency=max(1, int(env("FUTURE_L1_JUDGE_CONCURRENCY") or 4)),
            text_only=(env("FUTURE_L1_JUDGE_TEXT_ONLY") or "0").lower() in {"1", "true", "yes"},
            cache=(env("FUTURE_L1_JUDGE_CACHE") or "1").lower() not in {"0", "false", "no"},
        )

    @property
    def provider(self) -> str:
        return "rubric" if self.base_url is None or self.model == RUBRIC_MODEL else "openai-compatible"

    def public(self) -> dict:
        """What every per-sample result records about the judge (never the API key)."""
        return {
            "provider": self.provider,
            "base_url": self.base_url or "embedded",
            "model": self.model,
            "prompt_version": self.prompt_version,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "text_only": self.text_only,
            "comparable": self.provider != "rubric",
        }


@dataclass
class Verdict:
    cot: int
    answer: int
    reasoning: str
    cached: bool = False


def coerce_scores(score) -> tuple[int, int]:
    """First two integers of `score`, depth first (judges return [3, 4], [[3, 4]], ["3", 4.0] …); range-checked."""
    found: list[int] = []

    def walk(x) -> None:
        if isinstance(x, (list, tuple)):
            for y in x:
                walk(y)
        elif isinstance(x, bool):
            return
        elif isinstance(x, (int, float)):
            found.append(round(x))
        elif isinstance(x, str):
            with contextlib.suppress(ValueError):
                found.append(round(float(x.strip())))

    walk(score)
    if len(found) < 2:
        raise JudgeAnswerError(f"judge 'score' holds fewer than two numbers: {score!r}")
    pair = (int(found[0]), int(found[1]))
    if not all(SCORE_RANGE[0] <= s <= SCORE_RANGE[1] for s in pair):
        raise JudgeAnswerError(f"judge scores {list(pair)} out of range {list(SCORE_RANGE)}")
    return pair


def parse_verdict(content: str | None) -> Verdict:
    if not content or not content.strip():
        raise JudgeAnswerError("judge returned an empty message")
    try:
        obj = json.loads(content)
    except json.JSONDecodeError:
        match = re.search(r"\{.*\}", content, re.DOTALL)  # tolerate ```json fences / chatter around the object
        try:
            obj = json.loads(match.group(0)) if match else None
        except json.JSONDecodeError:
            obj = None
    if not isinstance(obj, dict) or "score" not in obj:
        raise JudgeAnswerError(f"judge did not return a JSON object with 'score': {content[:200]!r}")
    cot, answer = coerce_scores(obj["score"])
    return Verdict(cot, answer, str(obj.get("reasoning", "")))


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, httpx.HTTPStatusError):
        code = exc.response.status_code
        return code in (408, 409, 429) or code >= 500
    return isinstance(exc, (httpx.TransportError, JudgeAnswerError))


class Judge:
    """Thread-safe judge client for one config."""

    def __init__(self, config: JudgeConfig, *, base_url: str | None = None) -> None:
        self.config = config
        self.base_url = base_url or config.base_url
        if self.base_url is None:
            raise ValueError("Judge needs a base URL; use get_judge() for the embedded rubric judge")
        self._http = httpx.Client(timeout=config.timeout_s)
        self._slots = threading.BoundedSemaphore(config.concurrency)

    def cache_key(self, messages: list[dict]) -> str:
        c = self.config
        payload = {"model": c.model, "prompt_version": c.prompt_version, "temperature": c.temperature,
                   "max_tokens": c.max_tokens, "text_only": c.text_only, "messages": messages}  # fmt: skip
        return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    def _cache_path(self, key: str) -> Path:
        from future_l1.harness.cache import cache_root

        return cache_root() / "judge_cache" / key[:2] / f"{key}.json"

    def score(self, messages: list[dict]) -> Verdict:
        """A valid verdict, from the cache or the judge; raises JudgeError after the configured attempts."""
        key = self.cache_key(messages)
        path = self._cache_path(key)
        if self.config.cache and path.is_file():
            try:
                data = json.loads(path.read_text())
                return Verdict(data["cot"], data["answer"], data.get("reasoning", ""), cached=True)
            except (OSError, ValueError, KeyError):
                pass  # a corrupt entry is simply recomputed
        verdict = self._call_with_retries(messages)
        if self.config.cache:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(json.dumps({**asdict(verdict), "cached": False, "judge": self.config.public()}))
            os.replace(tmp, path)
        return verdict

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
        except JudgeError:
            raise
        except httpx.HTTPStatusError as exc:
            raise JudgeError(f"judge HTTP {exc.response.status_code} after {c.attempts} attempt(s)") from exc
        except httpx.TimeoutException as exc:
            raise JudgeError(f"judge timed out after {c.timeout_s:g} s ({c.attempts} attempt(s))") from exc
        except httpx.HTTPError as exc:
            raise JudgeError(f"judge unreachable at {self.base_url}: {type(exc).__name__}: {exc}") from exc

    def _call_once(self, messages: list[dict]) -> Verdict:
        c = self.config
        body = {"model": c.model, "messages": messages, "temperature": c.temperature, "max_tokens": c.max_tokens,
                "response_format": {"type": "json_object"}}  # fmt: skip
        headers = {"Authorization": f"Bearer {c.api_key}"}
        with self._slots:
            response = self._http.post(f"{self.base_url}/chat/completions", json=body, headers=headers)
        response.raise_for_status()
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise JudgeAnswerError(f"not an OpenAI chat-completions response: {response.text[:200]!r}") from exc
        return parse_verdict(content)


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
    config = config or JudgeConfig.from_env()
    base_url = config.base_url or embedded_rubric_url()
    with _lock:
        judge = _judges.get(config)
        if judge is None or judge.base_url != base_url:
            judge = _judges[config] = Judge(config, base_url=base_url)
        return judge
