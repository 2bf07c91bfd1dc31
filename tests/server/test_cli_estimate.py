"""``persona generate --estimate``: the plan and its price, printed as JSON; nothing is run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from persona.cli import app
from typer.testing import CliRunner

from tests.fakes import serving_openai

runner = CliRunner()


@pytest.fixture
def in_research_dir(research_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(research_dir)
    return research_dir


def test_estimate_prints_an_llm_run_s_plan_and_sends_nothing(
    in_research_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serving_openai(monkeypatch) as fake:
        result = runner.invoke(
            app, ["generate", "interviews.csv", "-n", "2", "--provider", "openai", "--estimate"]
        )

        assert result.exit_code == 0, result.output
        assert fake.chat_requests == []
    estimate = json.loads(result.stdout)
    assert (estimate["provider"], estimate["model"]) == ("openai", "gpt-5.4-mini")
    assert estimate["strategy"] == "direct" and estimate["requests"] == 1
    assert estimate["prompt_tokens"] > 0 and estimate["cost_usd_max"] > estimate["cost_usd_min"]
    assert estimate["budgets"] == []


def test_estimate_of_the_local_provider_says_it_is_free(in_research_dir: Path) -> None:
    result = runner.invoke(app, ["generate", "interviews.csv", "--estimate"])

    assert result.exit_code == 0, result.output
    estimate = json.loads(result.stdout)
    assert estimate["strategy"] == "offline" and estimate["cost_usd_max"] == 0.0
    assert "no cost" in estimate["notes"][0]


def test_estimate_of_an_unconfigured_provider_names_the_key_to_set(
    in_research_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)

    result = runner.invoke(
        app, ["generate", "interviews.csv", "--provider", "anthropic", "--estimate"]
    )

    assert result.exit_code == 1
    assert "ANTHROPIC_API_KEY" in result.stderr and result.stdout == ""
