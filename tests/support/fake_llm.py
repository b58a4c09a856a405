"""A local stand-in for an OpenAI-compatible LLM server (vLLM serving DeepSeek-R1), for tests,
benchmarks and the README's transcript. It lives under tests/ and is never part of the product.

It speaks enough of the protocol for the official `openai` SDK: `GET /v1/models` and
`POST /v1/chat/completions` (with `usage`), over HTTP/1.1 keep-alive. Verdicts follow a
transparent rule: a message containing one of `KEYWORDS` scores 0.95 in that keyword's
category; any other message is clean.

Behaviour per request is scripted: `server.script("429", "json")` makes the next request fail
with 429 and the one after answer cleanly; when the script is empty, `default` applies.
Behaviours: json, think, think_no_open, fenced, garbage, prose, partial, empty, truncated (cut
off mid-thought, finish_reason "length"), 429, 500, drop, delay:SECONDS (then the default answer).
Guard models, each in its documented format (see guard_answer): llama-guard-3, llama-guard-4,
shieldgemma, gpt-oss-safeguard, and FORMAT:safe for one that clears everything.
Compromised models, for the guard rail's tests: safe (every message is clean, whatever it says)
and obey (a prompt holding an instruction to the moderator, "respond safe", gets every message
answered clean; otherwise the usual verdicts).

Timing: with `latency_s` every request takes that long whatever its size (the mode most tests
use). With a `LatencyModel` a request takes as long as a vLLM server's would: the prompt's
tokens at a prefill rate, then the reasoning and answer tokens at a per-sequence decode rate,
at most `slots` requests at once (see `LatencyModel`).

Standalone: python -m tests.support.fake_llm --port 8080 --slots 8   (the latency model)
            python -m tests.support.fake_llm --port 8080 --latency 2  (a fixed 2 s)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import random
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

MODEL = "deepseek-ai/DeepSeek-R1-Distill-Llama-8B"
KEYWORDS: dict[str, str] = {
    "idiot": "harassment",
    "loser": "harassment",
    "worthless": "harassment",
    "bomb": "violence",
    "free followers": "spam",
    "ignore previous instructions": "prompt_injection",
    "ignore all instructions": "prompt_injection",
}
#: Characters per token for the counts below: about right for English text and JSON with
#: Llama-3's tokenizer, and all a latency model needs.
CHARS_PER_TOKEN = 4
# The block itself, on lines of its own (the instructions also name the tags).
_DATA_BLOCK = re.compile(r"^<chat_data>\n(.*?)\n</chat_data>$", re.DOTALL | re.MULTILINE)


def judge(text: str) -> dict[str, Any]:
    """The fake model's verdict for one message text."""
    lowered = text.lower()
    categories = {cat: 0.95 for word, cat in KEYWORDS.items() if word in lowered}
    hits = [word for word in KEYWORDS if word in lowered]
    reason = f"contains {hits[0]!r}" if hits else "nothing objectionable"
    return {"categories": categories, "reason": reason}


def data_in(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The data block of the first user turn that has one (channels' context and messages)."""
    for message in messages:
        content = text_of(message.get("content"))
        found = _DATA_BLOCK.search(content) if message.get("role") == "user" else None
        if found:
            data: dict[str, Any] = json.loads(found.group(1))
            return data
    return {}


def text_of(content: Any) -> str:
    """A turn's text: a string, or the text parts of a list of parts (Llama Guard 4's form)."""
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if p.get("type") == "text")
    return str(content or "")


def items_in(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages to judge."""
    return list(data_in(messages).get("messages", []))


def tokens(text: str) -> int:
    """A token count for `text` at `CHARS_PER_TOKEN` characters a token (at least one)."""
    return max(1, len(text) // CHARS_PER_TOKEN)


@dataclass
class LatencyModel:
    """How long a vLLM server takes for one request, from its token counts.

    Time to first token is the prompt's tokens at `prefill_tps`; then every output token, the
    reasoning (`think_tokens` per request plus `think_tokens_per_message` per message judged)
    and the answer (counted from its text), comes at `decode_tps`, the decode rate of one
    sequence. The server runs `slots` sequences at once, each at that rate (decode is bound by
    memory bandwidth, so a few concurrent sequences barely slow each other); more requests
    queue. `jitter` spreads each request's time uniformly by that fraction either way.

    The defaults are an 8B model (DeepSeek-R1-Distill-Llama-8B, a Llama-3.1-8B) under vLLM on
    one A100: about 5,000 prompt tokens/s and 60 output tokens/s per sequence at 8 sequences
    (docs/llm.md cites the published measurements). The reasoning lengths are assumptions: R1
    thinks for hundreds of tokens before it answers.
    """

    prefill_tps: float = 5000.0
    decode_tps: float = 60.0
    think_tokens: int = 300
    think_tokens_per_message: int = 40
    jitter: float = 0.0
    seed: int = 0
    _random: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.prefill_tps <= 0 or self.decode_tps <= 0:
            raise ValueError("token rates must be positive")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter is a fraction in [0, 1)")
        self._random = random.Random(self.seed)

    def reasoning_tokens(self, messages: int) -> int:
        """Tokens the model thinks before answering a prompt of `messages` messages."""
        return self.think_tokens + self.think_tokens_per_message * messages

    def seconds(self, prompt_tokens: int, output_tokens: int) -> float:
        """Prefill plus decode time for one request (output tokens include the reasoning)."""
        base = prompt_tokens / self.prefill_tps + output_tokens / self.decode_tps
        if not self.jitter:
            return base
        return base * self._random.uniform(1 - self.jitter, 1 + self.jitter)


@dataclass
class Recorded:
    """One chat-completions request as the server saw it."""

    body: dict[str, Any]
    behaviour: str
    at: float = field(default_factory=time.monotonic)
    #: Seconds the answer was given in a slot, as the timing mode worked them out.
    slot_seconds: float = 0.0

    @property
    def ids(self) -> list[str]:
        return [item["id"] for item in items_in(self.body.get("messages", []))]


class FakeLLMServer:
    """Start with `start()` (a background thread) or `serve_forever()`; stop with `stop()`."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_s: float = 0.0,
        latency_model: LatencyModel | None = None,
        slots: int = 8,
        model: str = MODEL,
        default: str = "json",
        supports_schema: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.latency_s = latency_s
        #: When set, request times follow it (plus `latency_s`, normally 0).
        self.latency_model = latency_model
        self.slots = slots
        self.model = model
        self.default = default
        self.supports_schema = supports_schema
        self.requests: list[Recorded] = []
        self._script: deque[str] = deque()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._slots: asyncio.Semaphore | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    # -- control (any thread) -------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def script(self, *behaviours: str) -> None:
        with self._lock:
            self._script.extend(behaviours)

    def reset(self, *, default: str = "json", supports_schema: bool = True) -> None:
        with self._lock:
            self._script.clear()
            self.requests.clear()
            self.default = default
            self.supports_schema = supports_schema
            self.latency_s = 0.0
            self.latency_model = None

    @property
    def completions(self) -> list[Recorded]:
        with self._lock:
            return list(self.requests)

    def start(self) -> FakeLLMServer:
        self._thread = threading.Thread(target=self._run_loop, name="fake-llm", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fake LLM server did not start")
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None

    def serve_forever(self) -> None:
        asyncio.run(self._serve_forever())

    # -- server (its own event loop) --------------------------------------------------------

    def _run_loop(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        loop.run_until_complete(self._listen())
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _serve_forever(self) -> None:
        await self._listen()
        timing = f"latency {self.latency_s:g}s"
        if self.latency_model is not None:
            m = self.latency_model
            timing = (
                f"prefill {m.prefill_tps:g} tokens/s, decode {m.decode_tps:g} tokens/s per "
                f"sequence, {m.think_tokens} + {m.think_tokens_per_message}/message reasoning "
                f"tokens, jitter {m.jitter:g}"
            )
        print(
            f"fake OpenAI-compatible server on {self.url} (model {self.model}, "
            f"{timing}, {self.slots} slots)",
            flush=True,
        )
        assert self._server is not None
        await self._server.serve_forever()

    async def _listen(self) -> None:
        self._slots = asyncio.Semaphore(self.slots)
        self._server = await asyncio.start_server(self._connection, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        # Closing the sockets ends each connection's read loop; wait for them to return, so no
        # task is left pending (or cancelled under the stream machinery) when the loop stops.
        for writer in list(self._writers):
            writer.close()
        current = asyncio.current_task()
        others = [t for t in asyncio.all_tasks() if t is not current]
        if others:
            await asyncio.wait(others, timeout=2)
        for task in others:
            task.cancel()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    break
                method, path, body = request
                try:
                    keep = await self._respond(method, path, body, writer)
                except Exception as exc:  # a bug here should show as a 500, not a hang
                    await _send(writer, 500, _error(f"fake server error: {exc!r}", "ServerError"))
                    keep = True
                if not keep:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _respond(
        self, method: str, path: str, body: bytes, writer: asyncio.StreamWriter
    ) -> bool:
        route = path.split("?", 1)[0].rstrip("/")
        if method == "GET" and route == "/v1/models":
            await _send(writer, 200, _models(self.model))
            return True
        if method == "POST" and route == "/v1/chat/completions":
            try:
                payload = json.loads(body or b"{}")
            except json.JSONDecodeError:
                await _send(writer, 400, _error("invalid JSON body", "BadRequestError"))
                return True
            return await self._complete(payload, writer)
        await _send(writer, 404, _error(f"no route {method} {route}", "NotFoundError"))
        return True

    def _next_behaviour(self) -> str:
        with self._lock:
            return self._script.popleft() if self._script else self.default

    async def _complete(self, payload: dict[str, Any], writer: asyncio.StreamWriter) -> bool:
        behaviour = self._next_behaviour()
        recorded = Recorded(payload, behaviour)
        with self._lock:
            self.requests.append(recorded)
        if payload.get("response_format") and not self.supports_schema:
            await _send(
                writer,
                400,
                _error("response_format json_schema is not supported", "BadRequestError"),
            )
            return True
        if behaviour == "429":
            await _send(
                writer, 429, _error("too many requests", "RateLimitError"), {"retry-after": "0"}
            )
            return True
        if behaviour == "500":
            await _send(writer, 500, _error("internal error", "InternalServerError"))
            return True
        if behaviour == "drop":
            return False  # close the connection without a response
        extra_delay = 0.0
        if behaviour.startswith("delay:"):
            extra_delay = float(behaviour.split(":", 1)[1])
            behaviour = self.default if not self.default.startswith("delay:") else "json"
        messages = payload.get("messages", [])
        items = items_in(messages)
        native = guard_answer(behaviour, payload)  # a guard model's own format, or None
        content = native.text if native else _answer(behaviour, items)
        prompt_chars = sum(len(text_of(m.get("content"))) for m in messages)
        reasoning, seconds = self._timing(prompt_chars, content, len(items))
        recorded.slot_seconds = seconds + extra_delay
        assert self._slots is not None
        async with self._slots:  # the GPU: this many sequences at once, the rest queue
            await asyncio.sleep(seconds + extra_delay)
        finish = "length" if behaviour == "truncated" else "stop"
        body = _completion(
            payload.get("model", self.model), content, prompt_chars, finish, reasoning
        )
        if native is not None and native.logprobs is not None:
            body["choices"][0]["logprobs"] = native.logprobs
        await _send(writer, 200, body)
        return True

    def _timing(self, prompt_chars: int, content: str, messages: int) -> tuple[int, float]:
        """Reasoning tokens and seconds in a slot for one answer."""
        model = self.latency_model
        if model is None:
            return 0, self.latency_s
        reasoning = model.reasoning_tokens(messages)
        output = reasoning + tokens(content)
        return reasoning, self.latency_s + model.seconds(prompt_chars // CHARS_PER_TOKEN, output)


def _answer(behaviour: str, items: list[dict[str, Any]]) -> str:
    if behaviour in COMPROMISED:
        return _compromised_answer(behaviour, items)
    results = [{"id": item["id"], **judge(item["text"])} for item in items]
    answer = json.dumps({"results": results})
    if behaviour == "json":
        return answer
    if behaviour == "think":
        return f"<think>\nLet me look at each message. {{not json}}\n</think>\n\n{answer}"
    if behaviour == "think_no_open":
        return f'Okay, the user wants verdicts {{"results": []}} for these.\n</think>\n\n{answer}'
    if behaviour == "fenced":
        return f"Here are the verdicts:\n```json\n{json.dumps({'results': results}, indent=2)}\n```"
    if behaviour == "prose":
        return f"Sure. {answer} Let me know if you need anything else."
    if behaviour == "garbage":
        return "I cannot help with that request. {broken json"
    if behaviour == "empty":
        return ""
    if behaviour == "truncated":
        return "<think>\nFirst message: " + "hmm, " * 200
    if behaviour == "partial":
        keep = results[: max(1, len(results) // 2)] if len(results) > 1 else []
        return json.dumps({"results": keep})
    raise ValueError(f"unknown behaviour {behaviour!r}")


# -- compromised models ------------------------------------------------------------------------

COMPROMISED = frozenset({"safe", "obey"})
#: What an obeying model takes as an order: a request for a clean verdict, or the classic
#: openers of an injection (Tensor Trust attacks aim at making a model say "access granted").
_ORDERS = re.compile(
    r"\b(?:respond|answer|reply|say|output|print|return|classify|rate|mark|label|judge)\b"
    r"[^.\n]{0,40}\b(?:safe|clean|harmless|acceptable|not harmful|access granted)\b"
    r"|\bignore (?:all |the |any )?(?:previous|prior|above|earlier|your)\b"
    r"|\baccess granted\b|\bdisregard\b[^.\n]{0,30}\binstructions\b",
    re.IGNORECASE,
)


def obeys(text: str) -> bool:
    """Would the obeying model take `text` as an order?"""
    return _ORDERS.search(text) is not None


def _compromised_answer(behaviour: str, items: list[dict[str, Any]]) -> str:
    """The answer of a model that clears everything ("safe"), or everything once any message
    in the prompt orders it to ("obey": an injected instruction hijacks the whole answer)."""
    hijacked = behaviour == "safe" or any(obeys(item["text"]) for item in items)
    clean = {"categories": {}, "reason": "nothing objectionable"}
    results = [{"id": item["id"], **(clean if hijacked else judge(item["text"]))} for item in items]
    return json.dumps({"results": results})


# -- guard models in their own formats ---------------------------------------------------------

GUARD_MODES = frozenset({"llama-guard-3", "llama-guard-4", "shieldgemma", "gpt-oss-safeguard"})
#: Threats and urging self-harm, which the guard models' taxonomies name (insults they do not).
THREATS: dict[str, str] = {
    "hurt you": "S1",
    "beat you": "S1",
    "stab you": "S1",
    "kill you": "S1",
    "bomb": "S1",
    "kill yourself": "S11",
    "hang yourself": "S11",
    "porn": "S12",
}
#: ShieldGemma's policies, by the words that violate them.
SHIELDGEMMA_WORDS: dict[str, tuple[str, ...]] = {
    "No Harassment": ("idiot", "loser", "hurt you", "beat you", "stab you", "kill yourself"),
    "No Dangerous Content": ("bomb", "kill yourself", "hang yourself", "stab you"),
    "No Hate Speech": (),
    "No Sexually Explicit Information": ("porn",),
}
_SHIELDGEMMA = re.compile(
    r"Human Question: (?P<text>.*?)\n<end_of_turn>.*?\* \"(?P<policy>[^\"]+)\":", re.DOTALL
)


@dataclass
class NativeAnswer:
    text: str
    logprobs: dict[str, Any] | None = None


def guard_answer(behaviour: str, payload: dict[str, Any]) -> NativeAnswer | None:
    """The answer a guard model gives in its documented format, or None for other modes.

    - Llama Guard 3/4 (model cards): the user turn is the conversation (the server's chat
      template adds the task); "safe", or "unsafe" and the S-codes on the next line.
    - ShieldGemma (model card): the prompt holds one policy; the answer starts with "Yes" or
      "No"; with `logprobs` the first token's top log probabilities come along.
    - gpt-oss-safeguard (user guide): the policy is the system turn, the content the user
      turn; the answer is the JSON object the policy's output format asks for.
    """
    mode, _, variant = behaviour.partition(":")
    if mode not in GUARD_MODES:
        return None
    safe = variant == "safe"
    messages = payload.get("messages", [])
    text = _last_user_text(messages)
    lowered = text.lower()
    if mode.startswith("llama-guard"):
        codes = sorted({code for word, code in THREATS.items() if word in lowered})
        if safe or not codes:
            return NativeAnswer("safe")
        return NativeAnswer("unsafe\n" + ",".join(codes))
    if mode == "shieldgemma":
        found = _SHIELDGEMMA.search(text)
        if found is None:
            return NativeAnswer("I need a Human Question and a policy.")
        question = found.group("text").lower()
        words = SHIELDGEMMA_WORDS.get(found.group("policy"), ())
        p_yes = 0.0 if safe else (0.92 if any(w in question for w in words) else 0.03)
        answer = "Yes" if p_yes >= 0.5 else "No"
        logprobs = None
        if payload.get("logprobs"):
            top = [("Yes", p_yes), ("No", 1.0 - p_yes)]
            entries = [
                {"token": t, "logprob": math.log(max(p, 1e-9)), "bytes": list(t.encode())}
                for t, p in sorted(top, key=lambda x: -x[1])
            ]
            logprobs = {"content": [{**entries[0], "top_logprobs": entries}], "refusal": None}
        return NativeAnswer(answer, logprobs)
    # gpt-oss-safeguard: the keyword verdicts and the threats, in the policy's JSON.
    categories = [] if safe else sorted(judge(text)["categories"])
    if not safe and any(word in lowered for word in THREATS):
        categories.append("violence")
    if not categories:
        result = {"violation": 0, "policy_category": "none", "rule_ids": [], "confidence": "high"}
        return NativeAnswer(json.dumps({**result, "rationale": "nothing objectionable"}))
    result = {
        "violation": 1,
        "policy_category": categories[0],
        "rule_ids": categories,
        "confidence": "high",
        "rationale": f"matches {categories[0]}",
    }
    return NativeAnswer(json.dumps(result))


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        return text_of(message.get("content"))
    return ""


def _models(model: str) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {
                "id": model,
                "object": "model",
                "created": 1_700_000_000,
                "owned_by": "vllm",
                "max_model_len": 32768,
            }
        ],
    }


def _completion(
    model: str,
    content: str,
    prompt_chars: int,
    finish_reason: str = "stop",
    reasoning_tokens: int = 0,
) -> dict[str, Any]:
    prompt_tokens = max(1, prompt_chars // CHARS_PER_TOKEN)
    # vLLM counts the reasoning among the completion tokens, parser or not.
    completion_tokens = tokens(content) + reasoning_tokens
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish_reason,
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def _error(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, bytes] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    body = await reader.readexactly(length) if length else b""
    return method, path, body


async def _send(
    writer: asyncio.StreamWriter,
    status: int,
    payload: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> None:
    body = json.dumps(payload).encode()
    reason = {
        200: "OK",
        400: "Bad Request",
        404: "Not Found",
        429: "Too Many Requests",
        500: "Internal Server Error",
    }.get(status, "Status")
    lines = [
        f"HTTP/1.1 {status} {reason}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        "connection: keep-alive",
    ]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    await writer.drain()


def add_latency_arguments(parser: argparse.ArgumentParser) -> None:
    """The timing flags, shared by this server's command line and the benchmark."""
    d = LatencyModel()
    group = parser.add_argument_group("timing (the latency model unless --latency is given)")
    group.add_argument(
        "--latency", type=float, default=None, help="a fixed number of seconds per request"
    )
    group.add_argument("--slots", type=int, default=8, help="requests served at once")
    group.add_argument(
        "--prefill-tps", type=float, default=d.prefill_tps, help="prompt tokens per second"
    )
    group.add_argument(
        "--decode-tps",
        type=float,
        default=d.decode_tps,
        help="output tokens per second of one sequence",
    )
    group.add_argument(
        "--think-tokens", type=int, default=d.think_tokens, help="reasoning tokens per request"
    )
    group.add_argument(
        "--think-tokens-per-message",
        type=int,
        default=d.think_tokens_per_message,
        help="reasoning tokens per message in the prompt",
    )
    group.add_argument(
        "--jitter", type=float, default=d.jitter, help="spread of each request's time (0.1 = 10%%)"
    )
    group.add_argument("--seed", type=int, default=d.seed, help="seed of the jitter")


def latency_model_from(args: argparse.Namespace) -> LatencyModel | None:
    """The latency model the flags describe; None in fixed-latency mode (--latency)."""
    if args.latency is not None:
        return None
    return LatencyModel(
        prefill_tps=args.prefill_tps,
        decode_tps=args.decode_tps,
        think_tokens=args.think_tokens,
        think_tokens_per_message=args.think_tokens_per_message,
        jitter=args.jitter,
        seed=args.seed,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    add_latency_arguments(parser)
    parser.add_argument("--model", default=MODEL)
    parser.add_argument("--default", default="think_no_open", help="answer style")
    args = parser.parse_args()
    server = FakeLLMServer(
        host=args.host,
        port=args.port,
        latency_s=args.latency or 0.0,
        latency_model=latency_model_from(args),
        slots=args.slots,
        model=args.model,
        default=args.default,
    )
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
