from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from persona.providers import _served
from persona.providers._http import RetryPolicy
from persona.schemas import Evidence
from persona.settings import Settings

INTERVIEWS = [
    ("P1", "designer", "I always abandon the cart when shipping costs show up at the last step."),
    ("P1", "designer", "I want to see the total price before I type in my card details."),
    ("P2", "engineer", "Saved cards make checkout quick, I never retype my number anymore."),
    ("P2", "engineer", "The coupon field is hidden and I waste time hunting for it every time."),
    ("P3", "nurse", "I shop on my phone during night shifts, so the page has to load fast."),
    ("P3", "nurse", "Guest checkout matters to me because I hate creating yet another account."),
    ("P4", "teacher", "My goal is to finish the order in under a minute between classes."),
    ("P4", "teacher", "Error messages that wipe the whole form are incredibly frustrating."),
]


class RecordingSleep:
    """An injected sleep: records the delays asked for and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture(autouse=True)
def _forget_what_servers_said() -> None:
    """Each test's fake servers answer for themselves: no context window kept from another's."""
    _served._answers.clear()


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def retry(sleep: RecordingSleep) -> RetryPolicy:
    return RetryPolicy(max_retries=2, base_delay=1.0, max_delay=30.0, sleep=sleep)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, provider_max_retries=2, provider_timeout=5.0)


@pytest.fixture
def evidence() -> list[Evidence]:
    return [
        Evidence(
            id=f"ev-{index:02d}",
            source="interviews.csv",
            locator=f"row {index + 2}",
            participant=participant,
            text=text,
            attributes={"role": role},
        )
        for index, (participant, role, text) in enumerate(INTERVIEWS)
    ]


def personas_json(count: int = 2, **overrides: Any) -> str:
    """A well-formed reply citing real evidence ids with verbatim quotes."""
    personas = [
        {
            "name": "Dana K.",
            "title": "Price-wary designer",
            "demographics": {"role": "designer"},
            "goals": [{"text": "See the full price early", "evidence_ids": ["ev-01"]}],
            "pain_points": [{"text": "Late shipping costs", "evidence_ids": ["ev-00"]}],
            "behaviours": [{"text": "Abandons carts", "evidence_ids": ["ev-00"]}],
            "quotes": [
                {
                    "text": "I always abandon the cart when shipping costs show up",
                    "evidence_ids": ["ev-00"],
                }
            ],
            "evidence_ids": ["ev-00", "ev-01"],
        },
        {
            "name": "Sam R.",
            "title": "Night-shift mobile shopper",
            "demographics": {"role": "nurse"},
            "goals": [{"text": "Fast pages on a phone", "evidence_ids": ["ev-04"]}],
            "pain_points": [{"text": "Forced sign-up", "evidence_ids": ["ev-05"]}],
            "behaviours": [{"text": "Shops at night", "evidence_ids": ["ev-04"]}],
            "quotes": [
                {"text": "so the page has to load fast", "evidence_ids": ["ev-04"]},
                {"text": "I hate creating yet another account", "evidence_ids": ["ev-05"]},
            ],
            "evidence_ids": ["ev-04", "ev-05"],
        },
    ][:count]
    for persona in personas:
        persona.update(overrides)
    return json.dumps({"personas": personas})
