"""Google's Gemini API (generateContent), with a JSON response constrained by a schema.

The schema goes in ``responseJsonSchema`` (plain JSON Schema) rather than ``responseSchema``
(an OpenAPI subset that cannot express free-form demographics). The key is read as
google-genai reads it, ``GOOGLE_API_KEY`` before ``GEMINI_API_KEY``, and sent in the
``x-goog-api-key`` header so it never appears in a URL or a log line. ``GEMINI_BASE_URL`` (or
the SDK's ``GOOGLE_GEMINI_BASE_URL``) points it at another endpoint; the API version is
appended as the SDK appends it. A reply that ends with ``CONTINUATION`` is resumed with its
``continuationToken``, as the SDK does by default. A long generation is streamed
(``:streamGenerateContent?alt=sse``) and its partial responses put back together as one.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar
from urllib.parse import quote

from persona.generation.pipeline import Completion, Stop
from persona.generation.prompt import ChatPrompt
from persona.providers._chat import ChatCall, ChatProvider, count
from persona.providers._streaming import StreamedReply, TokensReceived, text_of

API_VERSION = "v1"

SEED_MODULUS = 2**31
"""Gemini's seed is a 32-bit integer; larger configured seeds are folded into its range."""

MAX_CONTINUATIONS = 16
"""Hops followed for one reply: a server that keeps asking to continue is not believed forever."""

COMPLETE = frozenset(
    {
        "STOP",
        "FINISH_REASON_UNSPECIFIED",
        "MALFORMED_FUNCTION_CALL",
        "UNEXPECTED_TOOL_CALL",
        "TOO_MANY_TOOL_CALLS",
        "MISSING_THOUGHT_SIGNATURE",
        "MALFORMED_RESPONSE",
        "NO_IMAGE",
    }
)
"""Finish reasons after which the reply is whatever it is: parsing (and repair) judge it. Every
other one but MAX_TOKENS and CONTINUATION (SAFETY, RECITATION, BLOCKLIST, PROHIBITED_CONTENT,
SPII, LANGUAGE, MODEL_ARMOR, OTHER, ...) means the reply was withheld or blocked."""


class GeminiProvider(ChatProvider, provider="gemini"):
    default_context_tokens: ClassVar[int] = 1_048_576
    limits_output: ClassVar[bool] = False
    """No maxOutputTokens (see ``_complete``)."""

    @classmethod
    def endpoint(cls, configured: str | None) -> str:
        return f"{(configured or str(cls.spec.base_url)).rstrip('/')}/{API_VERSION}"

    def headers(self, api_key: str | None) -> dict[str, str]:
        return {"x-goog-api-key": str(api_key)}

    async def _complete(self, prompt: ChatPrompt, call: ChatCall) -> Completion:
        model, config = call.model, call.config
        # No maxOutputTokens: on thinking models it also caps the thinking, which would cut
        # replies short; the budget already reserves room for the reply.
        generation: dict[str, Any] = {
            "responseMimeType": "application/json",
            "responseJsonSchema": prompt.schema,
        }
        if config.temperature is not None:
            generation["temperature"] = config.temperature
        if config.seed is not None:
            generation["seed"] = config.seed % SEED_MODULUS
        body: dict[str, Any] = {
            # google-genai turns a system instruction string into a user-role Content.
            "systemInstruction": {"role": "user", "parts": [{"text": prompt.system}]},
            "contents": [{"role": "user", "parts": [{"text": prompt.user}]}],
            "generationConfig": generation,
        }
        model_path = quote(model.removeprefix("models/"), safe="")
        path = f"/models/{model_path}:generateContent"
        hops: list[Completion] = []
        for _ in range(MAX_CONTINUATIONS):
            response = await self._exchange(path, body, prompt, call)
            completion, token = self._read(response)
            hops.append(completion)
            if token is None:
                return _joined(hops)
            body = {**body, "continuationToken": token}
        # Still asking to continue after every hop allowed: the reply is cut off.
        return replace(_joined(hops), stop="exhausted", stop_reason="CONTINUATION")

    def streaming(self, path: str, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        stream_path = path.replace(":generateContent", ":streamGenerateContent") + "?alt=sse"
        return stream_path, body

    def streamed_reply(self, received: TokensReceived) -> StreamedReply:
        return StreamedContent(received)

    def _read(self, response: dict[str, Any]) -> tuple[Completion, str | None]:
        """The reply of one hop, and its continuation token when it asks to be resumed."""
        usage = response.get("usageMetadata") or {}
        counted = Completion(
            "",
            input_tokens=count(usage.get("promptTokenCount")),
            # Thinking tokens are billed as output.
            output_tokens=count(usage.get("candidatesTokenCount"))
            + count(usage.get("thoughtsTokenCount")),
            cached_input_tokens=count(usage.get("cachedContentTokenCount")),
        )
        candidates = response.get("candidates")
        if not candidates:
            blocked = (response.get("promptFeedback") or {}).get("blockReason")
            if blocked:
                return replace(counted, stop="refused", stop_reason=f"prompt {blocked}"), None
            raise self._unexpected(response, "candidates")
        candidate = candidates[0] or {}
        parts = (candidate.get("content") or {}).get("parts") or []
        answer = [p for p in parts if isinstance(p, dict) and not p.get("thought")]
        text = "".join(str(p.get("text", "")) for p in answer)
        finish = str(candidate.get("finishReason") or "FINISH_REASON_UNSPECIFIED")
        token = candidate.get("continuationToken")
        if finish == "CONTINUATION" and token:
            return replace(counted, text=text), str(token)
        reason = ": ".join(filter(None, [finish, candidate.get("finishMessage")]))
        return replace(counted, text=text, stop=_stop(finish), stop_reason=reason), None


def _stop(finish: str) -> Stop:
    if finish in COMPLETE:
        return "complete"
    if finish == "MAX_TOKENS":
        # No output limit is sent: the model's own ceiling cut it.
        return "exhausted"
    return "refused"


def _joined(hops: list[Completion]) -> Completion:
    """One reply from the hops of a continued one: their text in order, their usage summed,
    and the last hop's reason for ending."""
    last = hops[-1]
    return Completion(
        text="".join(h.text for h in hops),
        input_tokens=sum(h.input_tokens for h in hops),
        output_tokens=sum(h.output_tokens for h in hops),
        stop=last.stop,
        stop_reason=last.stop_reason,
        cached_input_tokens=sum(h.cached_input_tokens for h in hops),
    )


class StreamedContent(StreamedReply):
    """A response put together from its stream of partial ones: the first candidate's parts in
    order, its last finish reason, message and continuation token, and the last usage (each
    partial response carries the usage so far)."""

    def _begin(self) -> None:
        self._parts: list[dict[str, Any]] = []
        self._candidate: dict[str, Any] | None = None
        self._rest: dict[str, Any] = {}

    def finished(self) -> bool:
        ended = self._candidate is not None and bool(self._candidate.get("finishReason"))
        return ended or bool((self._rest.get("promptFeedback") or {}).get("blockReason"))

    async def add(self, event: dict[str, Any]) -> None:
        for key in ("usageMetadata", "promptFeedback"):
            if event.get(key):
                self._rest[key] = event[key]
        candidates = event.get("candidates") or []
        if not candidates or not isinstance(candidates[0], dict):
            return
        candidate = candidates[0]
        self._candidate = {**(self._candidate or {}), **candidate}
        for part in (candidate.get("content") or {}).get("parts") or []:
            if isinstance(part, dict):
                self._parts.append(part)
                await self.received(text_of(part.get("text")))

    def assembled(self) -> dict[str, Any]:
        if self._candidate is None:
            return {"candidates": [], **self._rest}
        content = {**(self._candidate.get("content") or {}), "parts": self._parts}
        return {"candidates": [{**self._candidate, "content": content}], **self._rest}
