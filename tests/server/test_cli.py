"""The ``persona`` command, in process (typer's CliRunner) and as a real subprocess."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import persona
import pytest
from persona.cli import API_EXTRA_MISSING, app
from typer.testing import CliRunner

runner = CliRunner()


@pytest.fixture
def in_research_dir(research_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(research_dir)
    return research_dir


def _interview_texts(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [row["response"] for row in csv.DictReader(handle)]


def _assert_grounded(personas: list[dict[str, Any]], texts: list[str]) -> None:
    for persona_data in personas:
        assert persona_data["quotes"], persona_data["name"]
        for quote in persona_data["quotes"]:
            assert quote["verified"] is True
            assert any(quote["text"] in text for text in texts), quote["text"]


# ---------------------------------------------------------------------- generate


def test_generate_prints_distinct_grounded_personas_as_json(in_research_dir: Path) -> None:
    result = runner.invoke(app, ["generate", "interviews.csv", "--count", "3"])

    assert result.exit_code == 0, result.output
    personas = json.loads(result.stdout)
    assert len(personas) == 3
    assert len({p["name"] for p in personas}) == 3
    assert all("id" not in p and "created_at" not in p for p in personas)
    _assert_grounded(personas, _interview_texts(in_research_dir / "interviews.csv"))
    assert "3 persona(s) generated" in result.stderr


def test_generate_writes_one_markdown_file_per_persona(
    in_research_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out" / "personas"

    result = runner.invoke(
        app,
        [
            *("generate", str(in_research_dir / "interviews.csv"), "transcripts", "-n", "2"),
            *("--format", "markdown", "--out", str(out)),
        ],
    )

    assert result.exit_code == 0, result.output
    files = sorted(out.iterdir())
    assert [f.name[:3] for f in files] == ["01-", "02-"]
    assert all(f.suffix == ".md" for f in files)
    first = files[0].read_text(encoding="utf-8")
    assert first.startswith("# ")
    assert "## Goals" in first
    assert result.stdout == ""
    assert f"wrote {files[0]}" in result.stderr


def test_generate_prints_markdown_to_stdout_and_writes_json_files(
    in_research_dir: Path, tmp_path: Path
) -> None:
    markdown = runner.invoke(app, ["generate", "interviews.csv", "-n", "2", "-f", "markdown"])
    written = runner.invoke(app, ["generate", "interviews.csv", "-n", "2", "-o", str(tmp_path)])

    assert markdown.exit_code == 0, markdown.output
    assert markdown.stdout.count("\n# ") + markdown.stdout.startswith("# ") == 2
    assert written.exit_code == 0, written.output
    names = [json.loads(f.read_text())["name"] for f in sorted(tmp_path.glob("*.json"))]
    assert len(names) == 2
    assert all(f"# {name}" in markdown.stdout for name in names)


def test_generate_with_evidence_adds_each_persona_s_cited_records(in_research_dir: Path) -> None:
    plain = runner.invoke(app, ["generate", "interviews.csv", "--count", "2"])
    result = runner.invoke(app, ["generate", "interviews.csv", "--count", "2", "--with-evidence"])

    assert result.exit_code == 0, result.output
    personas = json.loads(result.stdout)
    assert [{k: v for k, v in p.items() if k != "evidence"} for p in personas] == json.loads(
        plain.stdout
    )
    rows = list(csv.DictReader((in_research_dir / "interviews.csv").open(encoding="utf-8")))
    for persona_data in personas:
        records = {record["id"]: record for record in persona_data["evidence"]}
        assert list(records) == persona_data["evidence_ids"]
        for index, quote in enumerate(persona_data["quotes"]):
            record = records[quote["evidence_ids"][0]]
            row = rows[int(record["locator"].removeprefix("row ")) - 2]
            assert (record["source"], record["text"]) == ("interviews.csv", row["response"])
            assert {"section": "quotes", "index": index}.items() <= next(
                c for c in record["cited_by"] if c["section"] == "quotes" and c["index"] == index
            ).items()


def test_generate_markdown_ends_with_the_sources(in_research_dir: Path) -> None:
    result = runner.invoke(app, ["generate", "interviews.csv", "--count", "1", "-f", "markdown"])

    assert result.exit_code == 0, result.output
    sources = result.stdout[result.stdout.index("## Sources") :]
    assert "- `interviews.csv` \u00b7 row " in sources
    assert re.search(r"cited by (.*, )?quote 1\b", sources)


def test_generate_uses_the_text_column_given(in_research_dir: Path) -> None:
    result = runner.invoke(
        app, ["generate", "interviews.csv", "-n", "1", "--text-column", "no_such_column"]
    )

    assert result.exit_code == 1
    assert result.stderr.startswith("error: interviews.csv")
    assert "no_such_column" in result.stderr


def test_a_missing_file_is_one_line_on_stderr_and_exit_1(in_research_dir: Path) -> None:
    result = runner.invoke(app, ["generate", "interviews.csv", "nope.csv"])

    assert result.exit_code == 1
    assert result.stderr == "error: nope.csv: does not exist in the data directory\n"
    assert result.stdout == ""


def test_a_path_outside_the_data_directory_names_it_and_the_option(
    in_research_dir: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere.csv"
    shutil.copy(in_research_dir / "interviews.csv", outside)

    for arguments in (["generate", str(outside)], ["generate", "../elsewhere.csv"]):
        result = runner.invoke(app, arguments)

        assert result.exit_code == 1
        assert result.stderr == (
            f"error: {arguments[1]}: is outside the data directory {in_research_dir} "
            "(choose it with --data-dir)\n"
        )


def test_a_symbolic_link_out_of_the_data_directory_names_it_and_the_option(
    in_research_dir: Path, tmp_path: Path
) -> None:
    shutil.copy(in_research_dir / "interviews.csv", tmp_path / "interviews.csv")
    (in_research_dir / "linked.csv").symlink_to(tmp_path / "interviews.csv")

    result = runner.invoke(app, ["generate", "linked.csv"])

    assert result.exit_code == 1
    assert "outside the data directory" in result.stderr
    assert result.stderr.rstrip().endswith(f"{in_research_dir} (choose it with --data-dir)")


def test_data_dir_lets_paths_from_the_current_directory_reach_another_folder(
    research_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    result = runner.invoke(
        app,
        [
            "generate",
            "--data-dir",
            "..",
            "../research/interviews.csv",
            "-n",
            "1",
            "--with-evidence",
        ],
    )

    assert result.exit_code == 0, result.output
    (persona_data,) = json.loads(result.stdout)
    assert {r["source"] for r in persona_data["evidence"]} == {"research/interviews.csv"}
    assert not (elsewhere / ".persona").exists()
    assert not (tmp_path / ".persona").exists()


def test_a_missing_data_dir_is_one_line_naming_it(in_research_dir: Path) -> None:
    result = runner.invoke(app, ["generate", "--data-dir", "nope", "interviews.csv"])

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: the data directory {in_research_dir / 'nope'} does not exist "
        "or is not a directory (--data-dir)\n"
    )
    assert not (in_research_dir / "nope").exists()


@pytest.mark.parametrize(
    ("command", "flags"),
    [
        ("serve", ["--no-auth", "--create-data-dir", "--help"]),
        ("generate", ["--with-evidence", "--help"]),
    ],
)
def test_help_shows_flags_as_flags(command: str, flags: list[str]) -> None:
    result = runner.invoke(app, [command, "--help"])

    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    lines = result.output.splitlines()
    for flag in flags:
        (line,) = [line for line in lines if line.strip().startswith(flag + " ")]
        # The flag is followed by its help text, not by the type of a value.
        assert line.split(flag, 1)[1].strip()[0].isupper(), line


@pytest.mark.parametrize("command", ["generate", "serve", "mcp", "openapi"])
def test_help_names_values_in_words_not_python_types(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])

    assert result.exit_code == 0, result.output
    # Such as <int range>, <str>, <list[str]>, <directory>.
    assert re.findall(r"<[a-z][^>]*>", result.output) == [], result.output


def test_the_command_list_gives_whole_summaries() -> None:
    result = runner.invoke(app, ["--help"])
    commands = result.output.split("Commands:")[1].split("\n\n")[0].splitlines()

    summaries = {line.split()[0]: line for line in commands if line.strip()}
    assert set(summaries) == {"generate", "serve", "worker", "mcp", "openapi", "keys"}
    assert "persona generate examples/interviews.csv" in result.output  # the examples
    assert [line for line in summaries.values() if line.endswith("...")] == [
        summaries["worker"],  # the worker command is documented in docs/deploy.md
        summaries["keys"],  # so are keys (and the README)
    ]


@pytest.mark.parametrize("command", ["generate", "serve"])
def test_help_ends_with_examples_that_are_real_commands(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    examples = result.output.split("Examples:")[1].split("\n\n")[1].splitlines()

    assert all(line.strip().startswith(f"persona {command}") for line in examples), examples
    for example in examples:
        args = example.split("  ")[0].split()[2:]
        # Each example parses: only --help is added, so nothing runs.
        checked = runner.invoke(app, [command, *[a.strip('"') for a in args], "--help"])
        assert checked.exit_code == 0, (example, checked.output)


def test_generate_help_names_every_source_format() -> None:
    result = runner.invoke(app, ["generate", "--help"])

    for suffix in ("csv", "tsv", "json", "jsonl", "md", "txt"):
        assert f"{suffix}," in result.output or f"{suffix})" in result.output, suffix


def _excel_export(folder: Path) -> Path:
    """The example interviews as Excel saves a CSV on Western European Windows: cp1252, with
    a few characters UTF-8 would encode otherwise."""
    text = (folder / "interviews.csv").read_text(encoding="utf-8")
    text = text.replace(" the ", " thé ").replace("'", "\N{RIGHT SINGLE QUOTATION MARK}")
    export = folder / "exports" / "interviews-excel.csv"
    export.parent.mkdir()
    export.write_bytes(text.encode("cp1252"))
    return export


def test_a_cp1252_export_is_refused_with_a_way_to_name_its_encoding(
    in_research_dir: Path,
) -> None:
    _excel_export(in_research_dir)

    result = runner.invoke(app, ["generate", "exports/interviews-excel.csv"])

    assert result.exit_code == 1
    assert result.stderr.startswith("error: exports/interviews-excel.csv: ")
    assert "not valid UTF-8" in result.stderr
    assert "--encoding cp1252" in result.stderr
    assert result.stderr.count("\n") == 1


def test_generate_reads_files_in_the_encoding_it_is_given(in_research_dir: Path) -> None:
    _excel_export(in_research_dir)
    command = ["generate", "exports", "--count", "2", "--with-evidence", "--encoding", "cp1252"]

    result = runner.invoke(app, command)

    assert result.exit_code == 0, result.output
    evidence = [record for persona in json.loads(result.stdout) for record in persona["evidence"]]
    assert {record["source"] for record in evidence} == {"exports/interviews-excel.csv"}
    assert any(" thé " in record["text"] for record in evidence)


def test_an_unknown_encoding_is_a_usage_error(in_research_dir: Path) -> None:
    result = runner.invoke(app, ["generate", "interviews.csv", "--encoding", "klingon"])

    assert result.exit_code == 2
    assert "unknown encoding 'klingon'" in result.stderr


def test_a_failed_run_reports_its_error(in_research_dir: Path) -> None:
    result = runner.invoke(app, ["generate", "notes.md", "--count", "20"])

    assert result.exit_code == 1
    assert result.stderr.startswith("error: found 1 participant")
    assert result.stderr.count("\n") == 1


def test_an_unconfigured_provider_names_its_environment_variable(in_research_dir: Path) -> None:
    result = runner.invoke(app, ["generate", "interviews.csv", "--provider", "anthropic"])

    assert result.exit_code == 1
    assert "ANTHROPIC_API_KEY" in result.stderr


@pytest.mark.parametrize(
    "arguments",
    [
        ["generate", "interviews.csv", "--provider", "nonsense"],
        ["generate", "interviews.csv", "--model", ""],
        ["generate", "interviews.csv", "--count", "0"],
        ["generate", "interviews.csv", "--count", "21"],
        ["generate", "interviews.csv", "--format", "pdf"],
        ["generate"],
        ["frobnicate"],
    ],
)
def test_usage_errors_exit_2(in_research_dir: Path, arguments: list[str]) -> None:
    result = runner.invoke(app, arguments)
    assert result.exit_code == 2, result.output


def test_an_unwritable_output_folder_is_one_line_and_exit_1(
    in_research_dir: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file")

    result = runner.invoke(app, ["generate", "interviews.csv", "-n", "1", "-o", str(blocker / "x")])

    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == f"error: {blocker / 'x'}: Not a directory"


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"persona {persona.__version__}\n"


# ---------------------------------------------------------------------- serve and openapi


def test_serve_passes_every_option_to_the_launcher(monkeypatch: pytest.MonkeyPatch) -> None:
    from persona.api import launch

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(launch, "serve", lambda **options: calls.append(options))

    result = runner.invoke(
        app,
        [
            *("serve", "--host", "0.0.0.0", "--port", "9001", "--auth-token", "t1,t2"),
            *("--no-auth", "--data-dir", "research", "--database-url", "sqlite:///x.db"),
            *("--workers", "2", "--log-level", "debug", "--create-data-dir", "--with-worker"),
        ],
    )

    assert result.exit_code == 0, result.output
    assert calls == [
        {
            "host": "0.0.0.0",
            "port": 9001,
            "auth_token": "t1,t2",
            "no_auth": True,
            "data_dir": Path("research"),
            "create_data_dir": True,
            "database_url": "sqlite:///x.db",
            "workers": 2,
            "log_level": "debug",
            "with_worker": True,
        }
    ]


def test_serve_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    from persona.api import launch

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(launch, "serve", lambda **options: calls.append(options))

    assert runner.invoke(app, ["serve"]).exit_code == 0
    assert calls == [
        {
            "host": "127.0.0.1",
            "port": 8000,
            "auth_token": None,
            "no_auth": False,
            "data_dir": None,
            "create_data_dir": False,
            "database_url": None,
            "workers": 1,
            "log_level": "info",
            "with_worker": False,
        }
    ]


@pytest.mark.parametrize("missing", ["fastapi", "uvicorn"])
@pytest.mark.parametrize("command", [["serve"], ["openapi"]])
def test_server_commands_without_the_api_extra_say_what_to_install(
    monkeypatch: pytest.MonkeyPatch, missing: str, command: list[str]
) -> None:
    monkeypatch.setitem(sys.modules, missing, None)  # makes `import <missing>` fail

    result = runner.invoke(app, command)

    assert result.exit_code == 1
    assert result.stderr == f"error: {API_EXTRA_MISSING}\n"
    assert "pip install './packages/server[api]'" in result.stderr


def test_openapi_prints_the_spec_or_writes_it(tmp_path: Path) -> None:
    from persona.api.spec import export_openapi

    printed = runner.invoke(app, ["openapi"])
    target = tmp_path / "spec" / "openapi.json"
    written = runner.invoke(app, ["openapi", "--output", str(target)])

    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.stdout)["openapi"].startswith("3.")
    assert printed.stdout.rstrip("\n") == export_openapi(None).rstrip("\n")
    assert written.exit_code == 0, written.output
    assert target.read_text(encoding="utf-8") == export_openapi(None)
    assert written.stdout == ""


# ---------------------------------------------------------------------- real processes


def _persona_command() -> list[str]:
    script = Path(sys.executable).with_name("persona")
    return [str(script)] if script.exists() else [sys.executable, "-m", "persona.cli"]


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PERSONA_")}


def test_importing_the_cli_loads_no_heavy_modules() -> None:
    code = (
        "import sys, persona.cli\n"
        "heavy = [m for m in ('sqlalchemy', 'sklearn', 'fastapi', 'uvicorn', 'alembic', 'numpy')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=_clean_env()
    )
    assert found.stdout.strip() == ""


@pytest.mark.slow
def test_the_installed_command_is_deterministic_and_grounded(
    tmp_path: Path, examples_dir: Path
) -> None:
    shutil.copytree(examples_dir, tmp_path / "examples")
    command = [*_persona_command(), "generate", "examples/interviews.csv", "--count", "3"]

    runs = [
        subprocess.run(
            command, cwd=tmp_path, capture_output=True, text=True, env=_clean_env(), timeout=300
        )
        for _ in range(2)
    ]

    for run in runs:
        assert run.returncode == 0, run.stderr
    assert runs[0].stdout == runs[1].stdout
    personas = json.loads(runs[0].stdout)
    assert len(personas) == 3
    assert len({p["name"] for p in personas}) == 3
    _assert_grounded(personas, _interview_texts(examples_dir / "interviews.csv"))
    assert not (tmp_path / ".persona").exists()


def test_the_installed_command_exits_1_with_one_line_on_error(tmp_path: Path) -> None:
    run = subprocess.run(
        [*_persona_command(), "generate", "missing.csv"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=_clean_env(),
        timeout=300,
    )

    assert run.returncode == 1
    assert run.stderr == "error: missing.csv: does not exist in the data directory\n"


STAFF = """Staff Ref,works_in,years,comment
S1,Front desk,3,I want the phones to hold callers in a queue that tells them where they are.
S1,Front desk,3,Scanning the hospital letters takes most of my afternoon.
S2,Front desk,5,I need booking links sent by text instead of reading slots down the phone.
S2,Front desk,5,Patients get angry at the desk when the app shows a slot that is gone.
S3,Ward,9,I need the drug chart and the handover sheet on the same screen.
S3,Ward,9,The alerts go off so often that people have stopped listening to them.
S4,Ward,2,I wish I could print a clean handover list for agency staff in one click.
S4,Ward,2,Agency nurses can't get a login on their first night.
"""


def test_participant_and_segment_columns_are_named_by_option(tmp_path: Path) -> None:
    (tmp_path / "staff.csv").write_text(STAFF, encoding="utf-8")
    options = ["--data-dir", str(tmp_path), "--count", "2"]
    named = ["--participant-column", "staff ref", "--segment-column", "Works-In"]

    result = runner.invoke(app, ["generate", str(tmp_path / "staff.csv"), *options, *named])

    assert result.exit_code == 0, result.output
    personas = {p["title"]: p for p in json.loads(result.stdout)}
    assert sorted(personas) == ["Front desk", "Ward"]
    assert personas["Ward"]["participants"] == ["S3", "S4"]
    assert personas["Front desk"]["participants"] == ["S1", "S2"]
    assert "warning" not in result.stderr


def test_without_a_participant_column_each_record_is_one_with_a_warning_line(
    tmp_path: Path,
) -> None:
    (tmp_path / "staff.csv").write_text(STAFF, encoding="utf-8")

    result = runner.invoke(
        app, ["generate", str(tmp_path / "staff.csv"), "--data-dir", str(tmp_path), "-n", "2"]
    )

    assert result.exit_code == 0, result.output
    [warning] = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert "staff.csv: no participant column" in warning and "8 record(s)" in warning
    personas = json.loads(result.stdout)
    assert all(p["participants"] for p in personas)
    assert sum(len(p["participants"]) for p in personas) == 8


def test_a_missing_named_column_is_one_line_naming_it(tmp_path: Path) -> None:
    (tmp_path / "staff.csv").write_text(STAFF, encoding="utf-8")

    result = runner.invoke(
        app,
        ["generate", str(tmp_path / "staff.csv"), "--data-dir", str(tmp_path), "-n", "2",
         "--segment-column", "division"],
    )  # fmt: skip

    assert result.exit_code == 1
    assert result.stderr == "error: columns.segment: no source has a column 'division' " \
        "(--segment-column)\n"  # fmt: skip
