"""The ``persona`` command: generate personas from files, serve the API, export the OpenAPI spec.

Heavy modules (SQLAlchemy, scikit-learn, FastAPI) are imported inside the commands that use
them, so ``persona --version`` and ``persona --help`` start fast.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from persona.__about__ import __version__
from persona.cli_keys import keys_app
from persona.cli_output import OutputFormat, printed_personas, render_persona, write_personas
from persona.errors import PersonaError

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from persona.schemas import CitedEvidence, GenerationConfig, Persona
    from persona.service import PersonaService

    Cited = list[tuple[Persona, list[CitedEvidence]]]
    ThrowawayExperiment = contextlib.AbstractAsyncContextManager[tuple[PersonaService, str]]

API_EXTRA_MISSING = (
    "the server needs the api extra: from a clone, pip install './packages/server[api]'"
)
OUTSIDE = "outside the data directory"
NOT_UTF8 = "not valid UTF-8"
PROGRESS_REFRESH = 0.2
"""Seconds between two progress bar updates."""
app = typer.Typer(
    name="persona",
    help="Evidence-backed user personas from qualitative research data.",
    epilog="Examples:\n\n\b\n  persona generate examples/interviews.csv --count 3\n"
    "  persona serve --port 8001\n\n"
    "`persona COMMAND --help` shows a command's options and more examples.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Typer's rich help labels every flag "<bool>" as if it took a value; the plain help
    # shows flags as flags.
    rich_markup_mode=None,
)

app.add_typer(keys_app)


ServerDataDir = Annotated[
    Path | None,
    typer.Option(
        file_okay=False,
        metavar="DIR",
        help="Where data sources live; default: current directory.",
    ),
]
"""The data directory of a server or worker process."""


def _fail(message: str) -> NoReturn:
    """One line on stderr, exit code 1."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"persona {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Evidence-backed user personas from qualitative research data."""


# ---------------------------------------------------------------------- generate


GENERATE_EXAMPLES = """Examples:

\b
  persona generate examples/interviews.csv --count 3
  persona generate examples/ --format markdown --out out/
  persona generate examples/interviews.csv --format html --out cards/
  persona generate examples/survey.csv --text-column answer
  persona generate export.csv --encoding cp1252      (a CSV saved by Excel on Windows)
  persona generate survey.csv --provider anthropic   (needs ANTHROPIC_API_KEY)
"""


@app.command(
    short_help="Generate personas from data files (no server needed).",
    epilog=GENERATE_EXAMPLES,
)
def generate(
    paths: Annotated[
        list[str],
        typer.Argument(
            metavar="PATH...",
            help="Data files or folders inside the data directory (csv, tsv, json, jsonl, "
            "md, txt).",
            show_default=False,
        ),
    ],
    count: Annotated[
        int,
        typer.Option("--count", "-n", min=1, max=20, metavar="N", help="How many personas, 1-20."),
    ] = 3,
    provider: Annotated[
        str | None,
        typer.Option(
            metavar="NAME", help="local, anthropic, openai, gemini or ollama; default: local."
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option(metavar="NAME", help="Model name; default: the provider's.")
    ] = None,
    output_format: Annotated[
        OutputFormat,
        typer.Option(
            "--format",
            "-f",
            metavar="json|markdown|html",
            help="Output format; html (printable cards and an index.html) needs --out.",
        ),
    ] = OutputFormat.json,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            file_okay=False,
            metavar="DIR",
            help="Write one file per persona into this folder instead of printing them.",
        ),
    ] = None,
    text_column: Annotated[
        str | None,
        typer.Option(
            metavar="COLUMN", help="Column holding the participants' words (default: inferred)."
        ),
    ] = None,
    participant_column: Annotated[
        str | None,
        typer.Option(
            metavar="COLUMN",
            help="Column naming each record's participant (default: one named participant, "
            "respondent, user, person, customer, id or *_id).",
        ),
    ] = None,
    segment_column: Annotated[
        str | None,
        typer.Option(
            metavar="COLUMN",
            help="Column grouping the participants (default: one named segment, role, "
            "department, team, persona, group, cohort, plan, tier, job, occupation or type).",
        ),
    ] = None,
    with_evidence: Annotated[
        bool,
        typer.Option(
            "--with-evidence",
            help="JSON: add each persona's cited records (source, locator, participant, text, "
            "which statements cite them). Markdown always ends with its sources.",
        ),
    ] = False,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            file_okay=False,
            metavar="DIR",
            help="The folder the PATHs must be inside; default: the current directory.",
            show_default=False,
        ),
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="The files' encoding when it is not UTF-8, e.g. cp1252 for a CSV saved by "
            "Excel on Windows.",
        ),
    ] = None,
    estimate: Annotated[
        bool,
        typer.Option(
            "--estimate",
            help="Print what the run would send and may cost (JSON) and run nothing.",
        ),
    ] = False,
    pseudonymize: Annotated[
        bool | None,
        typer.Option(
            "--pseudonymize/--no-pseudonymize",
            help="Replace personal data by pseudonyms before the provider sees it; default: "
            "on for anthropic, gemini and a remote openai, off for the others.",
            show_default=False,
        ),
    ] = None,
    privacy_preview: Annotated[
        bool,
        typer.Option(
            "--privacy-preview",
            help="Generate nothing: print (JSON) exactly what the provider would receive for "
            "the first records, and what the privacy step would replace.",
        ),
    ] = False,
) -> None:
    """Generate personas from data files: progress on stderr, personas on stdout.

    PATHs are taken from the current directory, like any command's, and must lie inside the
    data directory."""
    config = _generation_config(count, provider, model, participant_column, segment_column)
    if pseudonymize is not None:
        config.privacy.pseudonymize = pseudonymize
    _check_encoding(encoding)
    if output_format is OutputFormat.html and out is None:
        _fail("--format html writes one file per persona: name a folder with --out")
    root = Path(os.path.abspath(data_dir or Path.cwd()))
    if not root.is_dir():
        _fail(f"the data directory {root} does not exist or is not a directory (--data-dir)")
    sources = [_inside_data_dir(path, root) for path in paths]
    try:
        experiment = _throwaway_experiment(sources, root, config, text_column, encoding)
        if estimate:
            typer.echo(asyncio.run(_estimate(experiment)))
            return
        if privacy_preview:
            typer.echo(asyncio.run(_preview(experiment)))
            return
        cited = asyncio.run(_generate(experiment))
    except PersonaError as err:
        message = str(err)
        if OUTSIDE in message:  # e.g. a symbolic link out of it
            message += f" {root} (choose it with --data-dir)"
        if NOT_UTF8 in message and encoding is None:
            message += ", or name its encoding (--encoding cp1252 for a CSV from Excel)"
        _fail(message)
    rendered = [render_persona(p, records, output_format, with_evidence) for p, records in cited]
    if out is None:
        typer.echo(printed_personas(rendered, output_format))
    else:
        _write_personas(out, [persona for persona, _ in cited], rendered, output_format)


def _inside_data_dir(path: str, root: Path) -> str:
    """``path`` (from the current directory) relative to the data directory. Symbolic links
    are left for the service to resolve: it refuses those that lead out."""
    absolute = os.path.abspath(path)
    if not Path(absolute).is_relative_to(root):
        _fail(f"{path}: is {OUTSIDE} {root} (choose it with --data-dir)")
    return os.path.relpath(absolute, root)


def _check_encoding(encoding: str | None) -> None:
    from persona.sources.transcode import check_encoding

    if encoding is not None:
        try:
            check_encoding(encoding)
        except LookupError:
            raise typer.BadParameter(
                f"unknown encoding {encoding!r} (e.g. utf-8, cp1252, latin-1)",
                param_hint="--encoding",
            ) from None


_OPTION_OF = {
    "provider": "--provider",
    "model": "--model",
    "participant": "--participant-column",
    "segment": "--segment-column",
}


def _generation_config(
    count: int,
    provider: str | None,
    model: str | None,
    participant_column: str | None,
    segment_column: str | None,
) -> GenerationConfig:
    from pydantic import ValidationError

    from persona.schemas import ColumnRoles, GenerationConfig

    try:
        columns = None
        if participant_column is not None or segment_column is not None:
            columns = ColumnRoles(participant=participant_column, segment=segment_column)
        return GenerationConfig(
            provider=provider, model=model, persona_count=count, columns=columns
        )
    except ValidationError as err:
        problem = err.errors()[0]
        option = _OPTION_OF.get(str(problem["loc"][-1]), "--model")
        raise typer.BadParameter(problem["msg"], param_hint=option) from None


@contextlib.asynccontextmanager
async def _throwaway_experiment(
    paths: list[str],
    data_dir: Path,
    config: GenerationConfig,
    text_column: str | None,
    encoding: str | None,
) -> AsyncIterator[tuple[PersonaService, str]]:
    """A service over a throwaway database holding one experiment of ``paths``, and its id."""
    from persona.schemas import ExperimentCreate
    from persona.service import PersonaService
    from persona.settings import Settings
    from persona.sources.transcode import needs_transcoding, utf8_copy

    with tempfile.TemporaryDirectory(prefix="persona-") as scratch:
        if encoding is not None and needs_transcoding(encoding):
            data_dir = utf8_copy(paths, data_dir, encoding, Path(scratch) / "sources")
        settings = Settings(
            data_dir=data_dir, database_url=f"sqlite:///{Path(scratch) / 'persona.db'}"
        )
        async with PersonaService(settings) as service:
            experiment = await service.create_experiment(
                ExperimentCreate(name="persona generate", data_sources=paths, config=config),
                text_column=text_column,
            )
            yield service, experiment.id


async def _generate(experiment: ThrowawayExperiment) -> Cited:
    """One run of the experiment. Each persona comes with the records it cites, read before
    the database goes."""
    async with experiment as (service, experiment_id):
        started = await service.start_run(experiment_id)
        personas = await _follow(service, experiment_id, started.run.id)
        return [(persona, await _cited(service, persona.id)) for persona in personas]


async def _estimate(experiment: ThrowawayExperiment) -> str:
    """The estimate of a run of the experiment, as JSON."""
    async with experiment as (service, experiment_id):
        return (await service.estimate_run(experiment_id)).model_dump_json(indent=2)


async def _preview(experiment: ThrowawayExperiment) -> str:
    """The privacy preview of the experiment, as JSON."""
    async with experiment as (service, experiment_id):
        return (await service.preview_privacy(experiment_id)).model_dump_json(indent=2)


async def _cited(service: PersonaService, persona_id: str) -> list[CitedEvidence]:
    records: list[CitedEvidence] = []
    cursor = None
    while True:
        page = await service.list_persona_evidence(persona_id, limit=200, cursor=cursor)
        records += page.items
        if (cursor := page.next_cursor) is None:
            return records


async def _follow(service: PersonaService, experiment_id: str, run_id: str) -> list[Persona]:
    """Wait for the run, drawing its progress on stderr; its personas, or its error."""
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    # A bar only on a terminal: redirected stderr gets the outcome lines alone.
    with Progress(console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task("starting", total=1.0)
        while True:
            try:
                run = await service.wait_for_run(experiment_id, run_id, timeout=PROGRESS_REFRESH)
                break
            except TimeoutError:
                await _show_progress(service, experiment_id, run_id, progress, task)
    if run.status != "succeeded":
        message = run.error.message if run.error else f"the run ended {run.status}"
        raise PersonaError(message)
    for warning in run.warnings:  # one line each: ``soft_wrap`` keeps rich from breaking it
        console.print(f"warning: {warning}", style="yellow", highlight=False, soft_wrap=True)
    console.print(f"{len(run.personas)} persona(s) generated", style="green", highlight=False)
    return run.personas


async def _show_progress(
    service: PersonaService, experiment_id: str, run_id: str, progress: Progress, task: TaskID
) -> None:
    run = await service.get_run(experiment_id, run_id)
    progress.update(task, completed=run.progress, description=run.stage or run.status)


def _write_personas(
    folder: Path, personas: list[Persona], rendered: list[str], output_format: OutputFormat
) -> None:
    try:
        for path in write_personas(folder, personas, rendered, output_format):
            typer.echo(f"wrote {path}", err=True)
    except OSError as err:
        _fail(f"{err.filename}: {err.strerror}")


# ---------------------------------------------------------------------- server


def _require_api_extra() -> None:
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        _fail(API_EXTRA_MISSING)


SERVE_EXAMPLES = """Examples:

\b
  persona serve                      http://127.0.0.1:8000 over the current directory
  persona serve --port 8001 --data-dir research/ --create-data-dir
  persona serve --host 0.0.0.0 --auth-token "$TOKEN" --workers 2
"""


@app.command(short_help="Run the REST API server (needs the api extra).", epilog=SERVE_EXAMPLES)
def serve(
    host: Annotated[
        str, typer.Option(metavar="ADDRESS", help="Interface to listen on.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=1, max=65535, metavar="NUMBER", help="Port to listen on.")
    ] = 8000,
    auth_token: Annotated[
        str | None,
        typer.Option(
            metavar="TOKEN", help="Bearer token(s), comma-separated; default: PERSONA_API_TOKEN."
        ),
    ] = None,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="Allow a non-loopback host without a token.")
    ] = False,
    data_dir: ServerDataDir = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            help="SQLAlchemy URL; default: the SQLite file .persona/persona.db of the data "
            "directory.",
        ),
    ] = None,
    create_data_dir: Annotated[
        bool,
        typer.Option("--create-data-dir", help="Create the data directory if it is missing."),
    ] = False,
    workers: Annotated[
        int, typer.Option(min=1, metavar="N", help="Worker processes sharing the port.")
    ] = 1,
    log_level: Annotated[
        str, typer.Option(metavar="LEVEL", help="debug, info, warning or error.")
    ] = "info",
    with_worker: Annotated[
        bool,
        typer.Option(
            "--with-worker",
            help="On PostgreSQL, also execute queued runs here (else `persona worker` does).",
        ),
    ] = False,
) -> None:
    """Run the REST API (needs the api extra)."""
    _require_api_extra()
    from persona.api.launch import serve as launch

    launch(
        host=host,
        port=port,
        auth_token=auth_token,
        no_auth=no_auth,
        data_dir=data_dir,
        create_data_dir=create_data_dir,
        database_url=database_url,
        workers=workers,
        log_level=log_level,
        with_worker=with_worker,
    )


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(min=1, help="Runs executed at a time.")] = 4,
    data_dir: ServerDataDir = None,
    database_url: Annotated[
        str | None,
        typer.Option(help="PostgreSQL URL; default: PERSONA_DATABASE_URL."),
    ] = None,
    health_file: Annotated[
        Path | None,
        typer.Option(
            dir_okay=False,
            help=(
                "Touch this file every 5 s while the worker's loops are alive (even while "
                "the database is away), for a liveness probe; removed on exit."
            ),
        ),
    ] = None,
) -> None:
    """Execute the runs queued in PostgreSQL until interrupted (needs the postgres extra)."""
    from persona.cli_worker import configure_worker_logging, is_postgresql, run_worker
    from persona.settings import Settings

    values: dict[str, object] = {
        "run_dispatch": "queue",
        "execute_runs": True,
        "max_concurrent_runs": concurrency,
    }
    if data_dir is not None:
        values["data_dir"] = data_dir
    if database_url is not None:
        values["database_url"] = database_url
    settings = Settings(**values)  # type: ignore[arg-type]
    if not is_postgresql(settings):
        _fail(
            "persona worker needs PostgreSQL (--database-url or PERSONA_DATABASE_URL="
            "postgresql+psycopg://…); on SQLite `persona serve` executes runs itself"
        )
    configure_worker_logging()
    try:
        asyncio.run(run_worker(settings, health_file=health_file))
    except PersonaError as err:
        _fail(err.message)


MCP_EXTRA_MISSING = "the MCP server needs the mcp extra: pip install './packages/server[mcp]'"


@app.command(
    short_help="Serve MCP tools to AI assistants on stdio (needs the mcp extra).",
    epilog="Example, as an assistant's command:\n\n\b\n  persona mcp --data-dir ~/research",
)
def mcp(
    data_dir: ServerDataDir = None,
    database_url: Annotated[
        str | None,
        typer.Option(metavar="URL", help="SQLAlchemy URL; default: as for `persona serve`."),
    ] = None,
) -> None:
    """Serve Persona's MCP tools on stdin and stdout until the client closes them, over the
    database and data directory `persona serve` would use (needs the mcp extra)."""
    from persona.settings import Settings

    try:
        from persona.mcp.stdio import serve_stdio
    except ImportError:
        _fail(MCP_EXTRA_MISSING)
    values: dict[str, object] = {}
    if data_dir is not None:
        values["data_dir"] = data_dir
    if database_url is not None:
        values["database_url"] = database_url
    try:
        asyncio.run(serve_stdio(Settings(**values)))  # type: ignore[arg-type]
    except PersonaError as err:
        _fail(err.message)


@app.command(short_help="Export the API's OpenAPI document (needs the api extra).")
def openapi(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", dir_okay=False, metavar="FILE", help="Write here instead of stdout."
        ),
    ] = None,
) -> None:
    """Export the OpenAPI document of the REST API (needs the api extra)."""
    _require_api_extra()
    from persona.api.spec import export_openapi

    text = export_openapi(output)
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        typer.echo(f"wrote {output}", err=True)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
