"""``holodeck``: build a scene, run services, inspect the system.

Most imports are local to the commands that use them: each command (``--help``
included) is a fresh process that needs only its own share of the pipeline, the bus
client, the web stack and the status database, and loading them all up front would cost
more than a cached build's own work. Module-level imports are what every command uses;
the rest are imported in the function that uses them, and under ``TYPE_CHECKING`` where
only an annotation names them.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from shared.errors import BadInput, HolodeckError, RetryLater

if TYPE_CHECKING:
    from shared.config import NatsSettings, Settings

try:  # Typer 0.2x carries its own copy of click
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - older Typer on the real click
    from click import exceptions as click_errors  # type: ignore[no-redef]

DEFAULT_PROMPT = "a cozy bedroom with a reading corner, two bookshelves and a green armchair"
# How long `debug health` waits for each of NATS and the database before calling it down.
HEALTH_CHECK_S = 10.0
# Conventional exit codes of a command stopped by Ctrl-C or SIGTERM.
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class _Cli(typer.Typer):
    """The Typer app, with every failure ending as one line on stderr and an exit code."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        command = typer.main.get_command(self)
        kwargs["standalone_mode"] = False
        try:
            code = command.main(*args, **kwargs)
        except click_errors.NoArgsIsHelpError as exc:
            exc.show()
            code = 0
        except click_errors.ClickException as exc:  # usage errors: a bad option or argument
            ctx = getattr(exc, "ctx", None)
            hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
            _fail_line(exc.format_message() + hint)
            code = exc.exit_code
        except (typer.Abort, KeyboardInterrupt):
            _fail_line("interrupted")
            code = EXIT_INTERRUPTED
        except BrokenPipeError:
            code = 0
        except Exception as exc:
            message, code = describe_error(exc)
            _fail_line(message)
        sys.exit(code if isinstance(code, int) else 0)


app = _Cli(help="Holodeck: a sentence in, a furnished 3D room out.", no_args_is_help=True)
debug_app = typer.Typer(help="Diagnostics.", no_args_is_help=True)
projection_app = typer.Typer(help="The gateway's status projection.", no_args_is_help=True)
app.add_typer(debug_app, name="debug")
app.add_typer(projection_app, name="projection")
session_app = typer.Typer(help="The workspace and the scenes made in it.", no_args_is_help=True)
app.add_typer(session_app, name="session")

err = Console(stderr=True)
T = TypeVar("T")


def _fail_line(message: str) -> None:
    # Plain text, not the rich console: no markup parsing, no wrapping at the terminal width.
    print(f"error: {' '.join(message.split())}", file=sys.stderr, flush=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """End the command with one line on stderr."""
    _fail_line(message)
    raise typer.Exit(code)


def describe_error(exc: BaseException) -> tuple[str, int]:
    """One line and an exit code for anything a command can raise: 2 for bad input or
    configuration, 1 for everything else."""
    if isinstance(exc, HolodeckError):
        return exc.message, 2 if isinstance(exc, BadInput) else 1
    import nats.errors
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors()
        )
        return f"invalid {exc.title}: {problems}", 2
    if isinstance(exc, nats.errors.Error):
        return f"NATS: {exc or type(exc).__name__}", 1
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}{where}", 1
    return f"{type(exc).__name__}: {exc}", 1


def _settings(quiet: bool = False) -> Settings:
    from shared.config import load_settings
    from shared.logs import configure_logging

    try:
        settings = load_settings()
    except HolodeckError as exc:
        fail(exc.message)
    if quiet and "level" not in settings.logging.model_fields_set:
        # A command's own output replaces the services' INFO lines, unless a level was
        # asked for (HOLODECK_LOG_LEVEL, the config file).
        configure_logging(settings.logging.model_copy(update={"level": "WARNING"}))
    else:
        configure_logging(settings.logging)
    return settings


def _loading() -> None:
    """A command that runs the pipeline loads most of its modules and starts its services
    with the cyclic garbage collector off: start-up allocates much and frees little, and
    every full collection would walk the growing heap again (0.05-0.1 s apiece)."""
    gc.disable()


def _started() -> None:
    """Once the services run, what start-up made is frozen (full collections, the one at
    exit included, no longer walk it) and the collector is on again."""
    gc.freeze()
    gc.enable()


class Doing:
    """What a command is busy with, for the message when its time runs out; and where a
    stop asked for (SIGTERM) takes effect should a library have swallowed its cancellation
    (on Python 3.11 ``asyncio.wait_for`` drops one that comes as its awaited read ends)."""

    def __init__(self, what: str = "starting") -> None:
        self.what = what
        self.stopping = False

    def now(self, what: str) -> None:
        """Move on to ``what``, unless the command was asked to stop meanwhile."""
        if self.stopping:
            raise asyncio.CancelledError
        self.what = what


def _run(
    coro: Coroutine[Any, Any, T], *, timeout: float | None = None, doing: Doing | None = None
) -> T:
    """Run ``coro`` within ``timeout`` seconds; SIGTERM and Ctrl-C stop it with its
    cleanup run (an embedded server stopped, the store released)."""
    terminated = False

    async def main() -> T:
        nonlocal terminated
        task = asyncio.current_task()
        assert task is not None

        def terminate() -> None:
            nonlocal terminated
            terminated = True
            if doing is not None:
                doing.stopping = True
            task.cancel()

        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, terminate)
        async with asyncio.timeout(timeout):
            try:
                return await coro
            except TimeoutError:
                # Someone else's deadline: only the command's own reads as --timeout.
                what = f" while {doing.what}" if doing is not None else ""
                raise RetryLater(f"an operation timed out{what}", code="timeout") from None

    try:
        return asyncio.run(main())
    except TimeoutError:
        what = f" while {doing.what}" if doing is not None else ""
        fail(f"gave up after {timeout:g} s{what} (--timeout)", 1)
    except asyncio.CancelledError:
        if terminated:
            fail("stopped by SIGTERM", EXIT_TERMINATED)
        raise
    except KeyboardInterrupt:
        fail("interrupted", EXIT_INTERRUPTED)
    except Exception as exc:
        message, code = describe_error(exc)
        fail(message, code)


def prompt_limit(settings: Settings) -> tuple[int | None, str]:
    """The longest prompt accepted, and what sets it: the request contract (read from the
    contract itself) or the planner's own, possibly lower, setting."""
    from shared.contract import SceneRequested

    limit, source = None, "the request contract"
    for constraint in SceneRequested.model_fields["prompt"].metadata:
        found = getattr(constraint, "max_length", None)
        if isinstance(found, int):
            limit = found
    configured = settings.planner.max_prompt_chars
    if limit is None or configured < limit:
        limit, source = configured, "planner.max_prompt_chars"
    return limit, source


def check_request(settings: Settings, prompt: str, seed: int) -> None:
    """Refuse a request the pipeline would refuse, before anything starts."""
    from pydantic import ValidationError

    from shared.contract import SceneOptions, SceneRequested

    text = prompt.strip()
    if not text:
        raise BadInput('the prompt is empty: say what room to make, e.g. "a small kitchen"')
    limit, source = prompt_limit(settings)
    if limit is not None and len(text) > limit:
        raise BadInput(
            f"the prompt has {len(text)} characters; at most {limit} are allowed ({source})"
        )
    try:
        SceneRequested(prompt=prompt, options=SceneOptions(seed=seed))
    except ValidationError as exc:
        raise BadInput(describe_error(exc)[0]) from None


def check_out_dir(out: Path) -> None:
    """``--out`` must be a directory we can write, checked before any work is done."""
    if out.exists() and not out.is_dir():
        raise BadInput(f"--out {out} is a file, not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise BadInput(f"--out {out} is not a writable directory: {exc.strerror}") from None


@app.command()
def build(
    prompt: Annotated[str, typer.Argument(help="What room to make.")] = DEFAULT_PROMPT,
    out: Annotated[Path, typer.Option(help="Where to write <scene_id>/scene.glb.")] = Path("out"),
    seed: Annotated[int, typer.Option(help="Seed for a reproducible scene.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="End with one JSON line.")] = False,
    timeout: Annotated[
        float, typer.Option(min=0.1, help="Give up after this many seconds, start-up included.")
    ] = 300.0,
) -> None:
    """Build one scene with the embedded stack (or against NATS_URL) and save it."""
    _loading()
    settings = _settings(quiet=True)
    _checked(lambda: check_request(settings, prompt, seed))
    _checked(lambda: check_out_dir(out))
    doing = Doing()
    _run(_build(settings, prompt, out, seed, as_json, timeout, doing), timeout=timeout, doing=doing)


async def _build(
    settings: Settings,
    prompt: str,
    out: Path,
    seed: int,
    as_json: bool,
    timeout: float,
    doing: Doing,
) -> None:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from services.runtime import WORKERS
    from services.stack import (
        SceneWatch,
        failure_error,
        request_scene,
        running_stack,
        save_artifacts,
        summary,
    )

    progress = Progress(
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=as_json,
        disable=as_json and not err.is_terminal,
    )
    tasks = {
        name: progress.add_task(name, total=None)
        for name in ("planner", "images", "meshes", "assembly")
    }

    def show(watch: SceneWatch) -> None:
        n = watch.object_count or None
        progress.update(tasks["planner"], total=1, completed=1 if watch.layout else 0)
        progress.update(tasks["images"], total=n, completed=len(watch.images))
        progress.update(tasks["meshes"], total=n, completed=len(watch.meshes))
        progress.update(tasks["assembly"], total=1, completed=1 if watch.ready else 0)

    doing.now("connecting to NATS and starting the services")
    async with running_stack(settings, WORKERS) as stack:
        _started()
        doing.now("building the scene")
        with progress:
            watch = await request_scene(stack.nc, prompt, seed=seed, timeout=timeout, on_event=show)
        if watch.cancelled:
            if as_json:
                print(summary(watch, {}))
            raise watch.cancel_error()
        if watch.failed:
            if as_json:
                print(summary(watch, {}))
            raise failure_error(watch)
        assert watch.ready is not None
        doing.now("saving the scene")
        paths = await save_artifacts(stack.store, watch.ready, out)
        doing.now("stopping the services")
    if as_json:
        print(summary(watch, paths))
        return
    unplaced = watch.layout.layout.unplaced if watch.layout else []
    err.print(
        f"[green]scene {watch.scene_id}[/green]: {watch.object_count} objects "
        f"in {watch.timings()['total_s']:.2f} s"
    )
    for item in unplaced:
        err.print(f"[yellow]not placed[/yellow]: {item.description} ({item.reason})")
    for name, path in paths.items():
        print(f"{name}: {path}")


@app.command()
def plan(
    prompt: Annotated[str, typer.Argument(help="What room to plan.")],
    seed: Annotated[int, typer.Option(help="Seed for a reproducible layout.")] = 0,
) -> None:
    """Understand a prompt and solve its layout; print the layout JSON (no bus, no assets)."""
    from services.planner.commands import plan_prompt

    settings = _settings(quiet=True)
    _checked(lambda: check_request(settings, prompt, seed))
    print(_checked(lambda: plan_prompt(prompt, seed)))


@app.command()
def layout(
    spec: Annotated[Path, typer.Argument(help="A scene spec JSON file (docs/schemas).")],
    seed: Annotated[int, typer.Option(help="Seed for a reproducible layout.")] = 0,
) -> None:
    """Solve a scene spec file; print the layout JSON."""
    from services.planner.commands import layout_from_spec

    _settings(quiet=True)
    print(_checked(lambda: layout_from_spec(spec, seed)))


def _checked(job: Callable[[], T]) -> T:
    from pydantic import ValidationError

    try:
        return job()
    except (HolodeckError, ValidationError) as exc:
        fail(describe_error(exc)[0])


@app.command()
def serve(
    names: Annotated[
        list[str],
        typer.Argument(help="Services: planner, imagegen, meshgen, assembly, gateway, or all."),
    ],
    port: Annotated[int | None, typer.Option(help="The gateway's HTTP port.")] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Port of /health and /metrics for worker services.")
    ] = None,
    metrics_host: Annotated[
        str,
        typer.Option(help="Address of /health and /metrics (0.0.0.0: every interface)."),
    ] = "127.0.0.1",
) -> None:
    """Run services in this process against NATS_URL (or an embedded server) until stopped."""
    _loading()
    from services.runtime import SERVICES

    unknown = [n for n in names if n not in SERVICES and n != "all"]
    if unknown or ("all" in names and len(names) > 1):
        what = f"unknown service {unknown[0]!r}" if unknown else "'all' stands alone"
        fail(f"{what}; choose from {', '.join(SERVICES)}, or all")
    settings = _settings()
    chosen = SERVICES if names == ["all"] else tuple(dict.fromkeys(names))
    _run(_serve(settings, chosen, port, metrics_port, metrics_host))


@app.command()
def up(
    port: Annotated[int, typer.Option(help="The gateway's HTTP port.")] = 8080,
) -> None:
    """NATS (embedded unless NATS_URL is set), every service and the gateway, until Ctrl-C."""
    _loading()
    from services.runtime import SERVICES

    settings = _settings()
    _run(_serve(settings, SERVICES, port, None))


async def _serve(
    settings: Settings,
    names: tuple[str, ...],
    port: int | None,
    metrics_port: int | None,
    metrics_host: str = "127.0.0.1",
) -> None:
    from services.gateway.app import run_gateway
    from services.gateway.security import check_bind
    from services.runtime import DEFAULT_PORTS, WORKERS
    from services.stack import probe_app, running_stack, serve_http

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    workers = tuple(n for n in names if n in WORKERS)
    if "gateway" in names:  # refused before anything starts
        check_bind(settings.security, settings.gateway.host)
    async with running_stack(settings, names) as stack:
        _started()
        jobs: list[Coroutine[Any, Any, Any]] = []
        if "gateway" in names:
            gateway_port = port if port is not None else settings.gateway.port
            jobs.append(
                run_gateway(settings, stack.host, settings.gateway.host, gateway_port, stop)
            )
            err.print(f"gateway on http://{settings.gateway.host}:{gateway_port}")
        elif workers:
            probe_port = metrics_port if metrics_port is not None else DEFAULT_PORTS[workers[0]]
            jobs.append(serve_http(probe_app(stack.host), metrics_host, probe_port, stop))
            err.print(f"{'+'.join(workers)}: /health and /metrics on {metrics_host}:{probe_port}")
        owner = "" if stack.server is not None or settings.nats.url else " (the workspace's"
        owner += " running embedded server)" if owner else ""
        err.print(f"NATS at {stack.url}{owner}; Ctrl-C stops")
        jobs.append(stop.wait())
        await asyncio.gather(*jobs)


@app.command()
def schema(
    out: Annotated[
        Path | None,
        typer.Option(help="Write <subject>.schema.json per event and asyncapi.json here."),
    ] = None,
    asyncapi: Annotated[bool, typer.Option(help="Print the AsyncAPI document instead.")] = False,
) -> None:
    """Print (or write) the JSON Schema of every event and the AsyncAPI document."""
    from services.runtime import asyncapi_document
    from shared.contract import json_schemas

    if out is None:
        body = asyncapi_document() if asyncapi else json_schemas()
        print(json.dumps(body, indent=2, sort_keys=True))
        return
    written = write_schemas(out)
    err.print(f"wrote {len(written)} files to {out}")


def write_schemas(out: Path) -> list[Path]:
    """Every event's JSON Schema, the AsyncAPI document and the scene spec's JSON Schema,
    as committed under docs/schemas."""
    from services.planner.spec import scene_spec_schema
    from services.runtime import asyncapi_document
    from shared.contract import json_schemas

    out.mkdir(parents=True, exist_ok=True)
    documents = {f"{root}.schema.json": body for root, body in json_schemas().items()}
    documents["asyncapi.json"] = asyncapi_document()
    documents["scene-spec.schema.json"] = scene_spec_schema()
    written = []
    for name, body in documents.items():
        path = out / name
        path.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


@debug_app.command("health")
def debug_health() -> None:
    """Check the configuration, the workspace, NATS and its stream, and the status database."""
    settings = _settings(quiet=True)
    ok = _run(_health(settings))
    raise typer.Exit(0 if ok else 1)


Check = tuple[str, bool, str]


async def _health(settings: Settings) -> bool:
    checks: list[Check] = [("config", True, "valid")]
    root = settings.storage.root
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / ".health"
        probe.write_text("ok")
        probe.unlink()
        checks.append(("workspace", True, str(root)))
    except OSError as exc:
        checks.append(("workspace", False, f"{root}: {exc.strerror}"))
    checks += await _nats_health(settings)
    try:
        from services.gateway.projection import Projection

        async with asyncio.timeout(HEALTH_CHECK_S):
            projection = await Projection(settings.database_url).open()
            held = (await projection.list_scenes(page=1, page_size=1)).total
            await projection.close()
        checks.append(("database", True, f"{_redact(settings.database_url)} ({held} scenes)"))
    except Exception as exc:
        reason = describe_error(exc)[0] if not isinstance(exc, TimeoutError) else "no answer"
        checks.append(("database", False, f"{_redact(settings.database_url)}: {reason}"))
    for name, ok, detail in checks:
        mark = "[green]✓[/green]" if ok else "[red]✗[/red]"
        err.print(f"{mark} {name}: {escape(detail)}", soft_wrap=True)
    return all(ok for _, ok, _ in checks)


async def _nats_health(settings: Settings) -> list[Check]:
    """The real stream: on NATS_URL, else on the workspace's running embedded server; with
    neither, what the embedded server would start from (its binary and store)."""
    from shared.bus import nats_server_binary, store_held, store_owner

    stream = settings.nats.stream
    url = settings.nats.url
    checks: list[Check] = []
    if url:
        where = url
    else:
        store = settings.storage.root / "nats"
        try:
            checks.append(("nats-server", True, nats_server_binary()))
        except HolodeckError as exc:
            checks.append(("nats-server", False, exc.message))
        record = store_owner(store)
        if record is None and store_held(store):
            # Held without a record: a server starting, or one flushing on its way out.
            checks.append(("nats", True, f"an embedded server is starting or stopping on {store}"))
            return checks
        if record is None:
            checks.append(_store_health(store, stream))
            return checks
        url = record.url
        where = f"{url} (embedded, run by process {record.owner_pid})"
    try:
        async with asyncio.timeout(HEALTH_CHECK_S):
            checks += await _stream_health(url, where, stream, settings.nats)
    except Exception as exc:
        reason = describe_error(exc)[0] if not isinstance(exc, TimeoutError) else "no answer"
        checks.append(("nats", False, f"{where}: {reason}"))
    return checks


async def _stream_health(
    url: str, where: str, stream: str, nats_settings: NatsSettings | None = None
) -> list[Check]:
    from nats.js.errors import NotFoundError

    from shared.bus import connect

    nc = await connect(url, "holodeck-health", nats_settings)
    try:
        js = nc.jetstream()
        info = await js.account_info()
        checks: list[Check] = [("nats", True, f"{where} (JetStream, {info.streams} streams)")]
        try:
            state = (await js.stream_info(stream)).state
            checks.append(
                (
                    "stream",
                    True,
                    f"{stream}: {state.messages} messages, last sequence {state.last_seq}",
                )
            )
        except NotFoundError:
            checks.append(("stream", True, f"{stream}: not created yet (services create it)"))
        return checks
    finally:
        await nc.close()


def _store_health(store: Path, stream: str) -> Check:
    """With no server running, the embedded server's store directory as it lies on disk."""
    if not store.exists():
        return ("nats", True, f"no embedded server running; no store yet ({store})")
    if not os.access(store, os.W_OK | os.X_OK):
        return ("nats", False, f"no embedded server running; store {store} is not writable")
    _, size = _folder_usage(store)
    streams = store / "jetstream" / "$G" / "streams"
    held = f"stream {stream} on disk" if (streams / stream).is_dir() else f"no stream {stream}"
    return (
        "nats",
        True,
        f"no embedded server running (each command starts one); store {store}: "
        f"{size / 1e6:.1f} MB, {held}",
    )


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


@projection_app.command("rebuild")
def projection_rebuild(
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Rebuild even from a stream that holds less than the database."
        ),
    ] = False,
) -> None:
    """Rebuild the gateway's status database from the start of the event stream."""
    settings = _settings(quiet=True)
    count = _run(_rebuild(settings, force))
    err.print(f"applied {count} events")


async def _rebuild(settings: Settings, force: bool) -> int:
    from nats.js.errors import NotFoundError

    from services.gateway.projection import Projection
    from services.gateway.projector import rebuild
    from services.stack import nats_endpoint
    from shared.bus import connect

    stream = settings.nats.stream
    projection = await Projection(settings.database_url).open()
    try:
        async with nats_endpoint(settings) as (url, _):
            nc = await connect(url, "holodeck-rebuild", settings.nats)
            try:
                js = nc.jetstream()
                try:
                    state = (await js.stream_info(stream)).state
                    messages, last = state.messages, state.last_seq
                except NotFoundError:
                    messages, last = None, 0
                held = (await projection.list_scenes(page=1, page_size=1)).total
                if not force:
                    refusal = _rebuild_refusal(
                        stream, url, messages, last, held, projection.last_seq()
                    )
                    if refusal:
                        raise BadInput(refusal)
                await projection.reset()
                return 0 if messages is None else await rebuild(js, stream, projection)
            finally:
                await nc.close()
    finally:
        await projection.close()


def _rebuild_refusal(
    stream: str, url: str, messages: int | None, last: int, held: int, position: int
) -> str | None:
    """Why rebuilding from this stream would lose what the database knows, if it would."""
    if held == 0 and position == 0:
        return None
    knows = f"the status database holds {held} scene(s) up to stream sequence {position}"
    if messages is None or messages == 0:
        state = "does not exist" if messages is None else "is empty"
        return (
            f"stream {stream} at {url} {state} but {knows}: a rebuild would empty it; point "
            "NATS_URL at the server that holds the history, or pass --force"
        )
    if last < position:
        return (
            f"stream {stream} at {url} ends at sequence {last} but {knows}: it is not the "
            "stream the database was built from; pass --force to rebuild from it anyway"
        )
    return None


def main() -> None:  # pragma: no cover - console entry
    app()


@session_app.command("info")
def session_info() -> None:
    """Where the workspace is and what it holds."""
    from rich.table import Table

    from shared.config import config_path

    settings = _settings(quiet=True)
    root = settings.storage.root
    table = Table(show_header=False, box=None)
    table.add_row("workspace", str(root))
    table.add_row("config file", str(config_path() or "none (environment and defaults)"))
    if settings.nats.url:
        table.add_row("NATS", settings.nats.url)
    else:
        from shared.bus import store_owner

        owner = store_owner(root / "nats")
        running = f"running at {owner.url} (process {owner.owner_pid})" if owner else "not running"
        table.add_row("NATS", f"embedded, store {root / 'nats'}, {running}")
    table.add_row("artifact store", settings.storage.artifact_store)
    count, size = _folder_usage(root / "artifacts")
    table.add_row("local artifacts", f"{count} files, {size / 1e6:.1f} MB")
    _, nats_size = _folder_usage(root / "nats")
    table.add_row("embedded NATS store", f"{nats_size / 1e6:.1f} MB")
    table.add_row("status database", _redact(settings.database_url))
    table.add_row(
        "backends",
        f"planner={settings.llm.default_provider} "
        f"images={settings.image_generation.default_backend} "
        f"meshes={settings.three_d_generation.default_backend}",
    )
    Console().print(table)


def _folder_usage(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []
    return len(files), sum(p.stat().st_size for p in files)


@session_app.command("list")
def session_list(
    limit: Annotated[int, typer.Option(help="How many scenes, newest first.")] = 20,
    status: Annotated[str | None, typer.Option(help="Only scenes with this status.")] = None,
    stuck: Annotated[
        bool, typer.Option("--stuck", help="Only running scenes with no news for too long.")
    ] = False,
) -> None:
    """The scenes made in this workspace (the status database, brought up to date first)."""
    from rich.table import Column, Table

    settings = _settings(quiet=True)
    if stuck and status is not None and status.upper() != "STUCK":
        fail(f"--stuck and --status {status} ask for different scenes: give one")
    page = _run(_session_list(settings, limit, "STUCK" if stuck else status))
    table = Table("status", "progress", "objects", "created", "prompt")
    table.columns.insert(0, Column("scene", no_wrap=True, min_width=20))
    for item in page.items:
        table.add_row(
            item.scene_id,
            item.status,
            f"{item.progress}%",
            str(item.object_count),
            item.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            item.prompt[:60],
        )
    Console().print(table)
    err.print(f"{page.total} scenes in all")


async def _session_list(settings: Settings, limit: int, status: str | None) -> Any:
    from nats.js.errors import NotFoundError

    from services.gateway.app import stuck_after
    from services.gateway.projection import Projection, Status
    from services.gateway.projector import catch_up
    from services.stack import nats_endpoint
    from shared.bus import connect

    wanted = None
    if status is not None:
        try:
            wanted = Status(status.upper())
        except ValueError:
            choices = ", ".join(s.value for s in Status)
            raise BadInput(f"unknown status {status!r}; choose from {choices}") from None
    projection = await Projection(
        settings.database_url, stuck_after=stuck_after(settings.gateway)
    ).open()
    try:
        async with nats_endpoint(settings) as (url, _):
            nc = await connect(url, "holodeck-session", settings.nats)
            try:
                await catch_up(nc.jetstream(), settings.nats.stream, projection)
            except NotFoundError:
                pass  # no stream yet: nothing to catch up with
            finally:
                await nc.close()
        return await projection.list_scenes(page=1, page_size=limit, status=wanted)
    finally:
        await projection.close()


@debug_app.command("performance")
def debug_performance(
    scenes: Annotated[int, typer.Option(min=1, max=100, help="Scenes to time.")] = 3,
    prompt: Annotated[str, typer.Option(help="The prompt of every scene.")] = DEFAULT_PROMPT,
    report: Annotated[
        bool, typer.Option("--report", help="Also write a JSON report into the workspace.")
    ] = False,
) -> None:
    """Time scenes through the stack: per stage, the bus's delay per hop, and memory."""
    _loading()
    from rich.table import Table

    from shared.metrics import resident_memory_bytes

    settings = _settings(quiet=True)
    _checked(lambda: check_request(settings, prompt, 0))
    figures = _run(_performance(settings, scenes, prompt))
    figures["memory_bytes"] = resident_memory_bytes()
    table = Table("measure", "p50", "max")
    for name, values in figures["series"].items():
        table.add_row(name, f"{_median(values):.4f}", f"{max(values):.4f}")
    Console().print(table)
    err.print(f"resident memory {figures['memory_bytes'] / 1e6:.0f} MB")
    if report:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = settings.storage.root / f"performance-{stamp}.json"
        path.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"report: {path}")


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


async def _performance(settings: Settings, scenes: int, prompt: str) -> dict[str, Any]:
    from services.runtime import WORKERS
    from services.stack import failure_error, request_scene, running_stack

    series: dict[str, list[float]] = {}
    async with running_stack(settings, WORKERS) as stack:
        _started()
        for i in range(scenes):
            watch = await request_scene(stack.nc, prompt, seed=i)
            if watch.failed:
                raise failure_error(watch)
            for name, value in watch.timings().items():
                series.setdefault(f"{name.removesuffix('_s')} (s)", []).append(value)
        for runner in stack.host.runners:
            if runner.recent_delays:
                series.setdefault(f"bus delay to {runner.stage} (s)", []).extend(
                    runner.recent_delays
                )
    return {"scenes": scenes, "prompt": prompt, "series": series}


def _register_more() -> None:
    """Commands that live in their own modules, given this module's runner and settings."""
    from services.backup_commands import register as register_backup
    from services.config_commands import register as register_config
    from services.recovery_commands import register as register_recovery
    from services.watch_command import register as register_watch

    register_recovery(app, _run, _settings)
    register_watch(app, _run, _settings)
    register_backup(app)
    register_config(app, _run, _settings)


_register_more()
