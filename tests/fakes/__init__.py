"""Fakes of the services Persona talks to, for tests and benchmarks (loopback only)."""

from tests.fakes.openai_server import (
    Content,
    FakeOpenAIServer,
    Hangup,
    InvalidJson,
    RecordedRequest,
    Reply,
    Stall,
    Status,
    Truncated,
    model_answer,
    serving_openai,
    write_reply,
)

__all__ = [
    "Content",
    "FakeOpenAIServer",
    "Hangup",
    "InvalidJson",
    "RecordedRequest",
    "Reply",
    "Stall",
    "Status",
    "Truncated",
    "model_answer",
    "serving_openai",
    "write_reply",
]
