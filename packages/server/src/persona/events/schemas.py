"""Run events as the API shows them: one schema per event type, told apart by ``type``.

The same objects are the items of an event page, the ``data`` of each Server-Sent Event and
the body of a webhook delivery, so every surface documents one shape per type.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, TypeAdapter

from persona.schemas import OutputModel, Usage
from persona.storage.events import StoredRunEvent

RunEventType = Literal[
    "run.queued", "run.started", "run.progress", "run.succeeded", "run.failed", "run.cancelled"
]


class NoEventData(OutputModel):
    """The event carries nothing beyond its type (run.queued, run.cancelled)."""


class RunStartedData(OutputModel):
    attempt: int = Field(description="1 for the first execution; more after a take-over.")


class RunProgressData(OutputModel):
    stage: str
    progress: float = Field(ge=0.0, le=1.0)


class RunSucceededData(OutputModel):
    persona_ids: list[str] = Field(description="The personas the run stored, in order.")
    usage: Usage


class RunFailedData(OutputModel):
    code: str = Field(
        description=(
            "Machine-readable: invalid_output, provider_auth, provider_quota, provider_refused, ..."
        )
    )
    message: str


class _RunEventBase(OutputModel):
    id: int = Field(
        description="The event's number in its run: 1, 2, 3, ... in the order the run's "
        "events happened. Resume a stream after it; order webhook deliveries of a run by it "
        "(they may arrive out of order)."
    )
    run_id: str
    experiment_id: str
    timestamp: AwareDatetime = Field(description="When the event happened.")
    created_at: AwareDatetime = Field(
        description="Deprecated: the same as `timestamp`, kept until the next minor version.",
        json_schema_extra={"deprecated": True},
    )


class RunQueuedEvent(_RunEventBase):
    """The run is waiting for a slot (on creation, and again after a take-over)."""

    type: Literal["run.queued"]
    data: NoEventData


class RunStartedEvent(_RunEventBase):
    """An attempt of the run started executing."""

    type: Literal["run.started"]
    data: RunStartedData


class RunProgressEvent(_RunEventBase):
    """The run reached a stage or a new share of its work (a few per second at most)."""

    type: Literal["run.progress"]
    data: RunProgressData


class RunSucceededEvent(_RunEventBase):
    """The run stored its personas. Terminal."""

    type: Literal["run.succeeded"]
    data: RunSucceededData


class RunFailedEvent(_RunEventBase):
    """The run failed. Terminal."""

    type: Literal["run.failed"]
    data: RunFailedData


class RunCancelledEvent(_RunEventBase):
    """The run was cancelled. Terminal."""

    type: Literal["run.cancelled"]
    data: NoEventData


RunEvent = Annotated[
    RunQueuedEvent
    | RunStartedEvent
    | RunProgressEvent
    | RunSucceededEvent
    | RunFailedEvent
    | RunCancelledEvent,
    Field(discriminator="type"),
]
RUN_EVENT = TypeAdapter[RunEvent](RunEvent)


class RunEventPage(OutputModel):
    items: list[RunEvent]
    next_after: int | None = Field(
        default=None, description="Pass as `after` for the next page; null on the last page."
    )


class ExperimentEventPage(OutputModel):
    items: list[RunEvent]
    next_after: str | None = Field(
        default=None,
        description="Pass as `after` for the next page; null on the last page. Also the "
        "`id` of each event of the experiment's stream: `{run_id}:{event id}`.",
    )


def run_event(stored: StoredRunEvent) -> RunEvent:
    """The API's shape of a stored event."""
    return RUN_EVENT.validate_python(
        {
            "id": stored.seq,
            "type": stored.type,
            "run_id": stored.run_id,
            "experiment_id": stored.experiment_id,
            "timestamp": stored.created_at,
            "created_at": stored.created_at,
            "data": stored.payload,
        }
    )


def event_key(event: RunEvent | StoredRunEvent) -> str:
    """An event's id among all of an experiment's events: ``{run_id}:{number}``."""
    seq = event.seq if isinstance(event, StoredRunEvent) else event.id
    return f"{event.run_id}:{seq}"


class StreamTicket(OutputModel):
    """A credential for one event stream, for a browser's EventSource (which cannot send
    an Authorization header)."""

    ticket: str = Field(description="Pass as `?ticket=`; opens this stream only.")
    url: str = Field(
        description="The stream's path with the ticket: `new EventSource(base + url)`."
    )
    expires_at: AwareDatetime = Field(
        description="Until when the stream may be opened (or reopened by a reconnect) with it; "
        "a stream already open keeps going."
    )
