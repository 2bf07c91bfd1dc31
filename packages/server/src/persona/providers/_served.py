"""What a self-hosted server says about a model's context window.

vLLM lists ``max_model_len`` for each model in ``GET /v1/models``; Ollama gives the model's
``<architecture>.context_length`` in ``POST /api/show``. Either may be missing (an older
server, a proxy in between): then the caller falls back to the setting. An answer is kept for
``KEEP_SECONDS`` per endpoint and model, so that a burst of runs asks once, not once a run.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from persona.providers._http import JsonApi

KEEP_SECONDS = 600.0
"""How long a server's answer is trusted: a restarted server may serve the model differently."""

_answers: dict[tuple[str, str], tuple[float, int | None]] = {}


async def remembered(
    endpoint: str, model: str, ask: Callable[[], Awaitable[int | None]]
) -> int | None:
    """What ``ask`` says about ``model`` on ``endpoint``, asked at most once per KEEP_SECONDS."""
    key = (endpoint, model)
    kept = _answers.get(key)
    now = time.monotonic()
    if kept is not None and now - kept[0] < KEEP_SECONDS:
        return kept[1]
    answer = await ask()
    _answers[key] = (now, answer)
    return answer


async def vllm_context(api: JsonApi, models_url: str, model: str) -> int | None:
    """``max_model_len`` of ``model`` in an OpenAI-style model list, when the server gives it."""
    listed = await api.probe("GET", models_url)
    for entry in (listed or {}).get("data") or []:
        if isinstance(entry, dict) and entry.get("id") == model:
            return _positive(entry.get("max_model_len"))
    return None


async def ollama_context(api: JsonApi, root_url: str, model: str) -> int | None:
    """The context length Ollama reports for ``model`` (``model_info``'s ``*.context_length``)."""
    shown = await api.probe("POST", f"{root_url}/api/show", {"model": model})
    info = (shown or {}).get("model_info") or {}
    if not isinstance(info, dict):
        return None
    lengths = [_positive(v) for k, v in info.items() if str(k).endswith(".context_length")]
    return next((length for length in lengths if length), None)


def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
