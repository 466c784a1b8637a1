"""A loopback OpenAI-compatible chat-completions server, and the deterministic rubric judge served on it.

`ChatServer(reply)` binds 127.0.0.1 on an ephemeral port, answers `POST /v1/chat/completions` with whatever
`reply(request_json)` returns (a content string, wrapped as an OpenAI response, or a raw `(status, body)` or
`(status, body, headers)`), and stops on `stop()`, at the end of a `with` block, or by itself after `idle_timeout_s`
without requests. With `pass_headers=True` the reply function gets the request headers too: `reply(request,
headers)`. Tests use it with faulty replies (timeouts, HTTP 500, malformed or out-of-range JSON, compressed bombs,
a judge echoing the Authorization header).

The rubric judge is the offline default for the demo and the tests. Its scores come from word overlap (answer: F1
against the ground-truth answer; reasoning: recall of the reference chain's content words), NOT from a language
model: they are NOT comparable with LLM-judge numbers, and every result it produces says so ("comparable": false).
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RUBRIC_MODEL = "future-l1-rubric-v1"
Reply = Callable[..., "str | tuple[int, bytes] | tuple[int, bytes, dict[str, str]]"]


class ChatServer:
    def __init__(self, reply: Reply, *, idle_timeout_s: float | None = None, model: str = RUBRIC_MODEL,
                 pass_headers: bool = False) -> None:  # fmt: skip
        self.reply, self.model, self.idle_timeout_s = reply, model, idle_timeout_s
        self.pass_headers = pass_headers
        self.n_requests = 0
        self._last = time.monotonic()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                self._send(200, json.dumps({"object": "list", "data": [{"id": server.model}]}).encode())

            def do_POST(self) -> None:
                server._last = time.monotonic()
                server.n_requests += 1
                length = int(self.headers.get("Content-Length", 0))
                try:
                    request = json.loads(self.rfile.read(length) or b"{}")
                    args = (request, dict(self.headers)) if server.pass_headers else (request,)
                    out = server.reply(*args)
                except Exception as exc:  # a broken reply function is a server error, not a hang
                    out = (500, f"reply failed: {exc}".encode())
                if isinstance(out, tuple):
                    status, body, headers = (*out, {}) if len(out) == 2 else out
                else:
                    status, body, headers = 200, json.dumps(_completion(server.model, out)).encode(), {}
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                    self._send(status, body, headers)

            def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self.port = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()

    def start(self) -> ChatServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="chat-server", daemon=True)
        self._thread.start()
        if self.idle_timeout_s:
            threading.Thread(target=self._watch_idle, name="chat-server-idle", daemon=True).start()
        return self

    def _watch_idle(self) -> None:
        while not self._stopped.wait(min(1.0, self.idle_timeout_s)):
            if time.monotonic() - self._last > self.idle_timeout_s:
                self.stop()

    def stop(self) -> None:
        if not self._stopped.is_set():
            self._stopped.set()
            self._httpd.shutdown()
            self._httpd.server_close()

    @property
    def running(self) -> bool:
        return not self._stopped.is_set()

    def __enter__(self) -> ChatServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _completion(model: str, content: str) -> dict:
    return {
        "id": "chatcmpl-local",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


# --- the rubric judge -------------------------------------------------------------------------------------------
_LABELS = ("Reference Reasoning Chain:", "Ground Truth Answer:", "Model Response Reasoning Chain:",
           "Model Response Answer:")  # fmt: skip
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "and",
        "or",
        "is",
        "are",
        "was",
        "be",
        "it",
        "its",
        "this",
        "that",
        "then",
        "with",
        "by",
        "for",
        "at",
        "as",
        "from",
    ]
)


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP]


def _f1(pred: list[str], gold: list[str]) -> float:
    if not pred or not gold:
        return 0.0
    common = sum(min(pred.count(w), gold.count(w)) for w in set(pred))
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def _sections(request: dict) -> dict[str, str]:
    user = next((m for m in request.get("messages", []) if m.get("role") == "user"), {})
    content = user.get("content", "")
    text = (
        content if isinstance(content, str) else "".join(p.get("text", "") for p in content if p.get("type") == "text")
    )
    out, rest = {}, text
    for label in reversed(_LABELS):
        head, sep, tail = rest.rpartition(label)
        out[label] = tail.strip() if sep else ""
        rest = head if sep else rest
    return out


def rubric_reply(request: dict) -> str:
    s = _sections(request)
    answer_f1 = _f1(_words(s["Model Response Answer:"]), _words(s["Ground Truth Answer:"]))
    chain = _words(s["Model Response Reasoning Chain:"])
    reference = set(_words(s["Reference Reasoning Chain:"].replace("<rimage>", " ")))
    recall = len(reference & set(chain)) / len(reference) if reference else 0.0
    cot = 0 if not chain else max(1, round(5 * recall))
    answer = round(5 * answer_f1)
    reasoning = f"rubric (not an LLM): answer word-F1 {answer_f1:.2f}, reference-chain word recall {recall:.2f}"
    return json.dumps({"reasoning": reasoning, "score": [cot, answer]})


def rubric_judge(*, idle_timeout_s: float | None = None) -> ChatServer:
    """The rubric judge on loopback (not started; use `with rubric_judge() as server:` or `.start()`)."""
    return ChatServer(rubric_reply, idle_timeout_s=idle_timeout_s, model=RUBRIC_MODEL)
