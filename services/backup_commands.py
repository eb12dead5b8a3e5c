"""``holodeck backup``, ``holodeck backup verify`` and ``holodeck restore``.

The work is in :mod:`shared.backup`; here are the options, the password, the NATS
connection (NATS_URL, else the workspace's embedded server), a progress bar, and the
gateway's projection rebuilt from the restored stream. Like the rest of the CLI, it
imports the bus client, the settings and the progress bar where they are used (see
:mod:`services.cli`).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console

from shared.errors import BadInput, HolodeckError

if TYPE_CHECKING:
    from shared.config import Settings

PASSWORD_VARIABLE = "BACKUP_PASSWORD"
T = TypeVar("T")

err = Console(stderr=True)
backup_app = typer.Typer(
    help="Back up the deployment (streams, buckets, artifacts, settings) into one file "
    "encrypted with BACKUP_PASSWORD; `backup verify FILE` checks one.",
    invoke_without_command=True,
)


def register(app: typer.Typer) -> None:
    """Add ``backup`` (with ``backup verify``) and ``restore`` to ``app``."""
    app.add_typer(backup_app, name="backup")
    app.command("restore")(restore)


def _fail(message: str, code: int = 1) -> NoReturn:
    print(f"error: {' '.join(message.split())}", file=sys.stderr, flush=True)
    raise typer.Exit(code)


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's work; every failure ends as one line on stderr and an exit code
    (2 for bad input or configuration, 1 for everything else)."""
    import nats.errors

    try:
        return asyncio.run(coro)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except HolodeckError as exc:
        _fail(exc.message, 2 if isinstance(exc, BadInput) else 1)
    except nats.errors.Error as exc:
        _fail(f"NATS: {exc or type(exc).__name__}")
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        _fail(f"{exc.strerror or exc}{where}")


def _settings() -> Settings:
    from shared.config import load_settings
    from shared.logs import configure_logging

    try:
        settings = load_settings()
    except HolodeckError as exc:
        _fail(exc.message, 2)
    if "level" not in settings.logging.model_fields_set:
        configure_logging(settings.logging.model_copy(update={"level": "WARNING"}))
    else:
        configure_logging(settings.logging)
    return settings


def _password() -> str:
    password = os.environ.get(PASSWORD_VARIABLE, "")
    if not password:
        _fail(f"set {PASSWORD_VARIABLE}: backups are encrypted with a key derived from it", 2)
    return password


def _artifacts_dir(settings: Settings) -> Path | None:
    """The local artifact store's folder, when artifacts are files in the workspace."""
    if settings.storage.artifact_store == "local":
        return settings.storage.root / "artifacts"
    return None


class _Bar:
    """A rich progress bar on stderr, or nothing when ``quiet`` or stderr is no terminal."""

    def __init__(self, what: str, quiet: bool):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description:<9}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            # Not on a terminal (a cron job, a pipe) a bar would only leave blank lines.
            disable=quiet or not err.is_terminal,
        )
        self.task = self.progress.add_task(what, total=None)

    def total(self, count: int) -> None:
        self.progress.update(self.task, total=count)

    def advance(self, count: int) -> None:
        self.progress.advance(self.task, count)

    def __enter__(self) -> _Bar:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


async def _connected(settings: Settings, name: str, work: Callable[[Any], Any]) -> Any:
    """Run ``work(js)`` against NATS_URL, else the workspace's embedded server (the running
    one, or one started for this command and stopped after it)."""
    from services.stack import nats_endpoint
    from shared.bus import connect

    async with nats_endpoint(settings) as (url, _):
        nc = await connect(url, name, settings.nats)
        try:
            return await work(nc.jetstream())
        finally:
            await nc.close()


@backup_app.callback()
def backup(
    ctx: typer.Context,
    out: Annotated[Path | None, typer.Option(help="The backup file to write (new).")] = None,
    incremental_since: Annotated[
        str | None,
        typer.Option(
            help="Only event-stream messages after this stream sequence, this ISO time or "
            "the last event of this earlier backup file (and what the buckets stored after "
            "that moment)."
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Back up the deployment into one encrypted file (BACKUP_PASSWORD)."""
    if ctx.invoked_subcommand is not None:
        return
    if out is None:
        _fail("--out FILE is required (see holodeck backup --help)", 2)
    from shared.backup import Since, make_backup

    if out.expanduser().exists():
        _fail(f"{out} exists: choose a new file for the backup", 2)

    since = None
    if incremental_since is not None:
        try:
            since = Since.parse(incremental_since)
        except HolodeckError as exc:
            _fail(exc.message, 2)
    settings = _settings()
    password = _password()

    async def work(js: Any) -> Any:
        with _Bar("backup", quiet) as bar:
            return await make_backup(
                js,
                out,
                password,
                settings,
                since=since,
                artifacts_dir=_artifacts_dir(settings),
                on_total=bar.total,
                on_advance=bar.advance,
            )

    report = _run(_connected(settings, "holodeck-backup", work))
    counts = ", ".join(
        f"{name} {section['records'] - 1}"
        for name, section in report.sections.items()
        if name not in ("header", "files")
    )
    files = report.sections.get("files", {}).get("records", 0)
    err.print(
        f"{report.kind} backup {report.path}: {report.size_bytes / 1e6:.2f} MB in "
        f"{report.seconds:.2f} s; messages: {counts}; local artifacts: {files}",
        soft_wrap=True,
    )


@backup_app.command("verify")
def verify(
    file: Annotated[Path, typer.Argument(help="The backup file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Check a backup without restoring it: every frame and every sum."""
    from shared.backup import verify_backup

    _settings()
    password = _password()

    async def work() -> Any:
        return await asyncio.to_thread(verify_backup, file, password)

    summary = _run(work())
    body = {
        "file": str(summary.path),
        "kind": summary.kind,
        "created": summary.header.get("created"),
        "since": summary.header.get("since"),
        "size_bytes": summary.size_bytes,
        "streams": summary.streams,
        "local_artifacts": summary.files,
        "objects": summary.objects,
        "sections": summary.sections,
        "settings": summary.header.get("settings"),
    }
    if as_json:
        print(json.dumps(body, indent=2))
        return
    streams = ", ".join(f"{name} {count}" for name, count in summary.streams.items())
    checked = sum(o["checked"] for o in summary.objects.values())
    damaged = sum(len(o["damaged"]) for o in summary.objects.values())
    err.print(
        f"{file}: valid {summary.kind} backup of {summary.header.get('created')}; "
        f"messages: {streams}; local artifacts: {summary.files}; "
        f"objects checked: {checked}" + (f", {damaged} damaged at backup time" if damaged else ""),
        soft_wrap=True,
    )


def restore(
    file: Annotated[Path, typer.Argument(help="The backup file.")],
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Restore into a deployment that holds data (a full backup replaces it).",
        ),
    ] = False,
    config_out: Annotated[
        Path | None,
        typer.Option(help="Also write the backed-up settings (secrets redacted) as YAML here."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Restore a backup into an empty deployment, then rebuild the gateway's projection."""
    import yaml

    from shared.backup import restore_backup, verify_backup

    settings = _settings()
    password = _password()

    async def check() -> Any:
        # Before any connection: a wrong password or a damaged file starts nothing.
        with _Bar("verify", quiet) as bar:
            return await asyncio.to_thread(verify_backup, file, password, bar.advance)

    summary = _run(check())

    async def work(js: Any) -> Any:
        with _Bar("restore", quiet) as bar:
            report = await restore_backup(
                js,
                file,
                password,
                settings,
                force=force,
                artifacts_dir=_artifacts_dir(settings),
                on_total=bar.total,
                on_advance=bar.advance,
                summary=summary,
            )
        return report, await _rebuild_projection(js, settings)

    report, applied = _run(_connected(settings, "holodeck-restore", work))
    if config_out is not None:
        config_out.write_text(yaml.safe_dump(summary.header.get("settings"), sort_keys=False))
    streams = ", ".join(f"{name} {count}" for name, count in report.streams.items()) or "none"
    notes = []
    if report.requests_renamed:
        notes.append(f"{report.requests_renamed} requests on their derived scene's subject")
    if report.without_msg_id:
        notes.append(f"{report.without_msg_id} repeated message ids dropped")
    err.print(
        f"restored {report.kind} backup {file} in {report.seconds:.2f} s: messages: {streams}; "
        f"local artifacts: {report.files}; consumers moved: {len(report.consumers)}; "
        f"projection rebuilt from {applied} events" + (f" ({'; '.join(notes)})" if notes else ""),
        soft_wrap=True,
    )


async def _rebuild_projection(js: Any, settings: Settings) -> int:
    """The gateway's status database, emptied and rebuilt from the restored stream."""
    from services.gateway.projection import Projection
    from services.gateway.projector import rebuild

    projection = await Projection(settings.database_url).open()
    try:
        await projection.reset()
        return await rebuild(js, settings.nats.stream, projection)
    finally:
        await projection.close()
