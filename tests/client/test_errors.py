"""Error responses become the documented exception classes, with the problem body parsed."""

from __future__ import annotations

import httpx
import persona_client as pc
import pytest
from persona_client._base import connection_error
from persona_client._exceptions import make_status_error

REQUEST = httpx.Request("GET", "http://127.0.0.1:8000/experiments/exp-1")


def answer(status: int, **kwargs: object) -> httpx.Response:
    return httpx.Response(status, request=REQUEST, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, pc.BadRequestError),
        (401, pc.AuthenticationError),
        (403, pc.PermissionDeniedError),
        (404, pc.NotFoundError),
        (409, pc.ConflictError),
        (413, pc.PayloadTooLargeError),
        (422, pc.UnprocessableEntityError),
        (429, pc.RateLimitError),
        (500, pc.InternalServerError),
        (502, pc.InternalServerError),
        (503, pc.InternalServerError),
        (599, pc.InternalServerError),
    ],
)
def test_each_status_has_its_class(status: int, kind: type[pc.APIStatusError]) -> None:
    error = make_status_error(answer(status, json={"title": "x", "status": status}))
    assert type(error) is kind
    assert error.status_code == status


@pytest.mark.parametrize("status", [402, 405, 410, 418, 301])
def test_other_statuses_raise_the_base_status_error(status: int) -> None:
    assert type(make_status_error(answer(status))) is pc.APIStatusError


def test_problem_body_is_parsed_into_the_message_and_attributes() -> None:
    body = {
        "type": "https://persona.dev/problems/not-found",
        "title": "Not Found",
        "status": 404,
        "detail": "experiment 'exp-1' not found",
        "code": "not_found",
    }
    error = make_status_error(answer(404, json=body, headers={"X-Request-ID": "req-7"}))
    assert error.problem is not None
    assert error.problem.detail == "experiment 'exp-1' not found"
    assert error.code == "not_found"
    assert error.request_id == "req-7"
    assert error.body == body
    assert str(error) == "404 Not Found: experiment 'exp-1' not found (request id req-7)"


def test_validation_errors_name_each_field() -> None:
    body = {
        "title": "Unprocessable Content",
        "status": 422,
        "detail": "2 fields are invalid",
        "errors": [
            {"loc": ["body", "data_sources", 0], "msg": "file not found", "type": "invalid_source"},
            {"loc": ["body", "config", "persona_count"], "msg": "must be ≤ 20", "type": "le"},
        ],
    }
    error = make_status_error(answer(422, json=body))
    assert isinstance(error, pc.UnprocessableEntityError)
    assert [e.loc for e in error.errors] == [
        ["body", "data_sources", 0],
        ["body", "config", "persona_count"],
    ]
    assert str(error).splitlines() == [
        "422 Unprocessable Content: 2 fields are invalid",
        "  body.data_sources.0: file not found",
        "  body.config.persona_count: must be ≤ 20",
    ]


def test_a_detail_that_only_repeats_the_field_errors_is_not_repeated() -> None:
    body = {
        "title": "Unprocessable Entity",
        "status": 422,
        "detail": "../etc/passwd: is outside the data directory",
        "errors": [
            {
                "loc": ["body", "data_sources", 0],
                "msg": "../etc/passwd: is outside the data directory",
                "type": "invalid_source",
            }
        ],
    }
    error = make_status_error(answer(422, json=body, headers={"X-Request-ID": "r1"}))
    assert str(error) == (
        "422 Unprocessable Entity (request id r1)\n"
        "  body.data_sources.0: ../etc/passwd: is outside the data directory"
    )


def test_422_without_field_errors_has_an_empty_list() -> None:
    error = make_status_error(answer(422, json={"title": "Unprocessable", "status": 422}))
    assert isinstance(error, pc.UnprocessableEntityError)
    assert error.errors == []


def test_request_id_falls_back_to_the_problem_body() -> None:
    body = {"title": "Internal Server Error", "status": 500, "request_id": "req-body"}
    error = make_status_error(answer(500, json=body))
    assert error.request_id == "req-body"
    assert "req-body" in str(error)


def test_a_body_that_is_not_a_problem_is_kept_raw() -> None:
    html = "<html><body>502 Bad Gateway</body></html>"
    error = make_status_error(answer(502, text=html))
    assert error.problem is None
    assert error.body == html
    assert error.code is None
    assert str(error).startswith("502 Bad Gateway: <html>")


def test_json_that_is_not_a_problem_is_kept_raw() -> None:
    error = make_status_error(answer(400, json=["unexpected"]))
    assert error.problem is None
    assert error.body == ["unexpected"]


def test_a_json_object_that_is_not_a_problem_is_kept_raw() -> None:
    error = make_status_error(answer(409, json={"error": "busy"}))
    assert type(error) is pc.ConflictError
    assert error.problem is None
    assert error.body == {"error": "busy"}
    assert str(error) == "409 Conflict"


def test_empty_error_body() -> None:
    error = make_status_error(answer(404))
    assert error.body is None
    assert error.request_id is None
    assert str(error) == "404 Not Found"


def test_long_text_bodies_are_shortened_in_the_message() -> None:
    error = make_status_error(answer(500, text="x" * 5000))
    assert len(str(error)) < 300
    assert error.body == "x" * 5000


def test_timeouts_become_api_timeout_errors() -> None:
    error = connection_error(httpx.ReadTimeout("timed out", request=REQUEST))
    assert type(error) is pc.APITimeoutError
    assert error.request is REQUEST
    assert "timed out" in str(error)


def test_connection_failures_name_the_server() -> None:
    error = connection_error(httpx.ConnectError("refused", request=REQUEST))
    assert type(error) is pc.APIConnectionError
    assert "http://127.0.0.1:8000" in str(error)
    assert "refused" in str(error)


def test_a_connection_error_without_a_message_still_says_what_failed() -> None:
    error = connection_error(httpx.RemoteProtocolError("", request=REQUEST))
    assert str(error).endswith("(RemoteProtocolError: no detail)")


def test_the_documented_tree() -> None:
    assert issubclass(pc.APITimeoutError, pc.APIConnectionError)
    assert issubclass(pc.APIConnectionError, pc.PersonaError)
    for status_class in (
        pc.BadRequestError,
        pc.AuthenticationError,
        pc.PermissionDeniedError,
        pc.NotFoundError,
        pc.ConflictError,
        pc.PayloadTooLargeError,
        pc.UnprocessableEntityError,
        pc.RateLimitError,
        pc.InternalServerError,
    ):
        assert status_class.__bases__ == (pc.APIStatusError,)
    assert issubclass(pc.APIStatusError, pc.PersonaError)
    assert issubclass(pc.RunCancelledError, pc.RunFailedError)
    assert issubclass(pc.WaitTimeoutError, TimeoutError)
    assert issubclass(pc.WaitTimeoutError, pc.PersonaError)
    assert not issubclass(pc.APIConnectionError, pc.APIStatusError)
