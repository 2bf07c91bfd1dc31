"""A loopback fake of an OpenAI-compatible server: real sockets on 127.0.0.1, scripted faults.

    with FakeOpenAIServer(latency=0.2) as server:
        server.script(Status(429, retry_after="1"), Status(500))  # the next two requests
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        ...                                                       # then answers normally
        assert len(server.requests) == 3

It serves ``POST /v1/chat/completions`` (streamed when the request asks) and ``GET /v1/models``
over HTTP/1.1 with keep-alive,
from its own thread and event loop, so that sync tests, async tests, benchmarks and servers
in other processes can all use it. Every request waits ``latency`` seconds, then gets the next
scripted reply, or ``default(body)`` when the script is empty. The default reply is what
``model_answer`` writes: a deterministic stand-in for a model that reads the evidence (or the
notes) in Persona's prompts and answers in the JSON shape the request's schema asks for, with
quotes copied verbatim from the evidence.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import re
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

# --------------------------------------------------------------------------- replies


@dataclass(frozen=True)
class Content:
    """A 200 chat completion whose message content is ``text``; its usage reports
    ``completion_tokens`` when given, else the tokens of ``text``."""

    text: str
    completion_tokens: int | None = None


@dataclass(frozen=True)
class Status:
    """An error status with an OpenAI-style error body and an optional Retry-After header."""

    status: int
    retry_after: str | None = None
    message: str = "scripted failure"


@dataclass(frozen=True)
class Truncated:
    """A 200 whose Content-Length promises more than is sent before the connection closes."""


@dataclass(frozen=True)
class InvalidJson:
    """A 200 whose body is not JSON."""


@dataclass(frozen=True)
class Stall:
    """Wait ``seconds`` before answering normally: past a client's timeout, if it has one."""

    seconds: float


@dataclass(frozen=True)
class Hangup:
    """Close the connection without answering."""


Reply = Content | Status | Truncated | InvalidJson | Stall | Hangup


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    received_at: float = field(default_factory=time.perf_counter)
    """``time.perf_counter()`` when the request had been read, before the latency."""


# --------------------------------------------------------------------------- the model


_BLOCK = re.compile(r"<(evidence|notes)>\n(.*?)\n</\1>", re.DOTALL)
QUOTE_WORDS = 12
NOTES_PER_GROUP = 3
MAX_NOTE_IDS = 12
"""As Persona's notes prompt asks."""


@dataclass(frozen=True)
class _Item:
    """A passage the fake model can quote: its evidence id, its words, every id behind it."""

    quote_id: str
    text: str
    ids: list[str]


def _items(prompt: str) -> list[_Item]:
    """The passages in the evidence or notes block of a prompt."""
    match = _BLOCK.search(prompt)
    if match is None:
        return []
    items: list[_Item] = []
    for line in match.group(2).splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if match.group(1) == "evidence":
            items.append(_Item(record["id"], record["text"], [record["id"]]))
            continue
        for quote in record.get("quotes", []):
            ids = [*quote["evidence_ids"], *record.get("evidence_ids", [])]
            items.append(_Item(quote["evidence_ids"][0], quote["text"], list(dict.fromkeys(ids))))
    return items


def _quote(text: str) -> str:
    """The first words of ``text``, unchanged: a verbatim quote up to white space."""
    return " ".join(text.split()[:QUOTE_WORDS])


def _cite(item: _Item) -> dict[str, Any]:
    return {"text": _quote(item.text), "evidence_ids": [item.quote_id]}


def _notes(items: list[_Item]) -> dict[str, Any]:
    notes: list[dict[str, Any]] = []
    for start in range(0, len(items), NOTES_PER_GROUP):
        group = items[start : start + NOTES_PER_GROUP]
        notes.append(
            {
                "theme": f"finding {len(notes) + 1}",
                "summary": _quote(group[0].text),
                "participants": [],
                "evidence_ids": list(dict.fromkeys(i for item in group for i in item.ids))[
                    :MAX_NOTE_IDS
                ],
                "quotes": [_cite(group[0])],
            }
        )
    return {"notes": notes}


def _personas(items: list[_Item], count: int) -> dict[str, Any]:
    personas = []
    for index in range(count):
        mine = items[index::count] or items[:1]
        personas.append(
            {
                "name": f"Fake Persona {index + 1}",
                "title": f"Segment {index + 1}",
                "demographics": {"segment": str(index + 1)},
                "goals": [_cite(item) for item in mine[:2]],
                "pain_points": [_cite(item) for item in mine[2:4]],
                "behaviours": [],
                "quotes": [_cite(item) for item in mine[:3]],
                "evidence_ids": list(dict.fromkeys(i for item in mine for i in item.ids)),
            }
        )
    return {"personas": personas}


def model_answer(prompt: str, schema: dict[str, Any]) -> str:
    """What the fake model answers to one of Persona's prompts, given the reply schema:
    notes (condensing a chunk) or personas, as JSON."""
    items = _items(prompt)
    properties = schema.get("properties", {})
    if "notes" in properties:
        return json.dumps(_notes(items))
    count = properties.get("personas", {}).get("minItems", 3)
    return json.dumps(_personas(items, count))


def write_reply(body: dict[str, Any]) -> str:
    """The fake model's answer to an OpenAI chat request."""
    prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
    json_schema = (body.get("response_format") or {}).get("json_schema") or {}
    return _cached_answer(prompt, json.dumps(json_schema.get("schema") or {}))


@functools.lru_cache(maxsize=256)
def _cached_answer(prompt: str, schema: str) -> str:
    # Benchmarks send the same prompt hundreds of times; the fake shares their process and
    # CPU, so it answers a prompt it has seen from memory.
    return model_answer(prompt, json.loads(schema))


@functools.cache
def _encoding() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # its data's importlib call
        try:
            import bpe_openai
        except ImportError:  # the tokens extra is not installed: a rough count
            return None
        return bpe_openai.get_encoding("o200k_base")


@functools.lru_cache(maxsize=256)
def tokens_of(text: str) -> int:
    """``text``'s tokens as OpenAI's current models count them (o200k_base), when the
    tokenizer is installed; else about one per four characters."""
    encoding = _encoding()
    if encoding is None:
        return len(text) // 4 + 1
    return len(encoding.encode_ordinary(text))


MESSAGE_TOKENS = 3
"""OpenAI's framing: each message costs 3 tokens besides its content, and the reply 3 more."""


def prompt_tokens(body: dict[str, Any]) -> int:
    """The prompt tokens OpenAI reports for a chat request: its messages, their framing and
    the reply's JSON schema."""
    messages = body.get("messages", [])
    counted = sum(tokens_of(str(m.get("content", ""))) + MESSAGE_TOKENS for m in messages)
    json_schema = (body.get("response_format") or {}).get("json_schema") or {}
    schema = json.dumps(json_schema["schema"]) if "schema" in json_schema else ""
    return counted + MESSAGE_TOKENS + (tokens_of(schema) if schema else 0)


def completion(
    body: dict[str, Any], text: str, number: int, completion_tokens: int | None = None
) -> dict[str, Any]:
    """A chat completion in the documented shape, with its prompt and completion tokens
    counted (``completion_tokens`` reports another count of the reply's)."""
    prompt_count = prompt_tokens(body)
    reply_count = tokens_of(text) if completion_tokens is None else completion_tokens
    return {
        "id": f"chatcmpl-fake-{number}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake-model"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_count,
            "completion_tokens": reply_count,
            "total_tokens": prompt_count + reply_count,
        },
    }


# --------------------------------------------------------------------------- the server


@functools.lru_cache(maxsize=64)
def _decode(raw: bytes) -> Any:
    """A request body; identical bodies share one decoded (read-only) value."""
    return json.loads(raw)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def streamed(completed: dict[str, Any], pieces: int = 4) -> bytes:
    """A chat completion as its stream of server-sent chunks (``stream: true`` with
    ``stream_options.include_usage``): the content in ``pieces``, the finish reason, the usage
    alone, then ``[DONE]``."""
    (choice,) = completed["choices"]
    text = choice["message"]["content"]
    size = max(1, -(-len(text) // pieces))
    head = {k: completed[k] for k in ("id", "created", "model")}
    head["object"] = "chat.completion.chunk"

    def chunk(choices: list[dict[str, Any]], usage: Any = None) -> dict[str, Any]:
        return {**head, "choices": choices, "usage": usage}

    events = [chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}}])]
    events += [
        chunk([{"index": 0, "delta": {"content": text[i : i + size]}}])
        for i in range(0, len(text), size)
    ]
    events.append(chunk([{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]))
    events.append(chunk([], completed["usage"]))
    data = [json.dumps(event) for event in events] + ["[DONE]"]
    return "".join(f"data: {d}\n\n" for d in data).encode()


def _head(
    status: int,
    length: int,
    extra: dict[str, str] | None = None,
    content_type: str = "application/json",
) -> bytes:
    lines = [f"HTTP/1.1 {status} {_reason(status)}", f"Content-Type: {content_type}"]
    lines.append(f"Content-Length: {length}")
    lines += [f"{name}: {value}" for name, value in (extra or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@dataclass
class FakeOpenAIServer:
    """The fake server; ``start()``/``stop()`` or use it as a (sync) context manager."""

    latency: float = 0.0
    default: Callable[[dict[str, Any]], Reply] = field(
        default=lambda body: Content(write_reply(body))
    )
    requests: list[RecordedRequest] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self._script: deque[Reply] = deque()
        self._numbers = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def base_url(self) -> str:
        """What to set OPENAI_BASE_URL to."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with ``replies``, in order, before the default resumes."""
        self._script.extend(replies)

    # ----------------------------------------------------------------------- lifecycle

    def start(self) -> FakeOpenAIServer:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="fake-openai", daemon=True
        )
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def _listen(self) -> int:
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", self.port, backlog=4096
        )
        return int(self._server.sockets[0].getsockname()[1])

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    # ----------------------------------------------------------------------- HTTP

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while await self._serve_one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False when the connection is to be closed."""
        request_line = await reader.readline()
        if not request_line.strip():
            return False
        method, path, _ = request_line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        raw = await reader.readexactly(int(headers.get("content-length", "0")))
        body = _decode(raw) if raw else None
        self.requests.append(RecordedRequest(method, path, headers, body))
        if self.latency:
            await asyncio.sleep(self.latency)
        if method == "GET" and path.rstrip("/").endswith("/models"):
            await self._send(writer, 200, {"object": "list", "data": [{"id": "fake-model"}]})
        elif method == "POST" and path.endswith("/chat/completions"):
            reply = self._script.popleft() if self._script else self.default(body or {})
            if not await self._answer(writer, reply, body or {}):
                return False
        else:
            await self._send(writer, 404, {"error": {"message": f"no route {method} {path}"}})
        return headers.get("connection", "").lower() != "close"

    async def _send(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        payload: Any,
        extra: dict[str, str] | None = None,
    ) -> None:
        data = json.dumps(payload).encode()
        writer.write(_head(status, len(data), extra) + data)
        await writer.drain()

    async def _answer(self, writer: asyncio.StreamWriter, reply: Reply, body: Any) -> bool:
        """Write ``reply``; False when it leaves the connection unusable."""
        if isinstance(reply, Stall):
            await asyncio.sleep(reply.seconds)
            reply = self.default(body)
        if isinstance(reply, Content):
            completed = completion(body, reply.text, next(self._numbers), reply.completion_tokens)
            if body.get("stream"):
                data = streamed(completed)
                writer.write(_head(200, len(data), content_type="text/event-stream") + data)
                await writer.drain()
            else:
                await self._send(writer, 200, completed)
        elif isinstance(reply, Status):
            extra = {"Retry-After": reply.retry_after} if reply.retry_after is not None else None
            error = {"message": reply.message, "type": "fake_error", "code": str(reply.status)}
            await self._send(writer, reply.status, {"error": error}, extra)
        elif isinstance(reply, InvalidJson):
            data = b"<html>upstream exploded</html>"
            writer.write(_head(200, len(data)) + data)
            await writer.drain()
        elif isinstance(reply, Truncated):
            data = json.dumps(completion(body, write_reply(body), next(self._numbers))).encode()
            writer.write(_head(200, len(data)) + data[: len(data) // 2])
            await writer.drain()
            return False
        elif isinstance(reply, Hangup):
            return False
        return True


@contextlib.contextmanager
def serving_openai(monkeypatch: Any, latency: float = 0.0) -> Iterator[FakeOpenAIServer]:
    """The fake, started and named by ``OPENAI_BASE_URL`` (a loopback server needs no key)
    through ``monkeypatch`` (pytest's), until the block ends."""
    with FakeOpenAIServer(latency=latency) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        yield server
