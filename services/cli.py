"""``holodeck``: build a scene, run services, inspect the system."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column, Table

from shared.config import Settings, load_settings
from shared.errors import BadInput, HolodeckError
from shared.logs import configure_logging

DEFAULT_PROMPT = "a cozy bedroom with a reading corner, two bookshelves and a green armchair"

app = typer.Typer(help="Holodeck: a sentence in, a furnished 3D room out.", no_args_is_help=True)
debug_app = typer.Typer(help="Diagnostics.", no_args_is_help=True)
projection_app = typer.Typer(help="The gateway's status projection.", no_args_is_help=True)
app.add_typer(debug_app, name="debug")
app.add_typer(projection_app, name="projection")
session_app = typer.Typer(help="The workspace and the scenes made in it.", no_args_is_help=True)
app.add_typer(session_app, name="session")

err = Console(stderr=True)
T = TypeVar("T")


def _settings(quiet: bool = False) -> Settings:
    try:
        settings = load_settings()
    except HolodeckError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2) from None
    if quiet and settings.logging.level in ("DEBUG", "INFO"):
        # A build's own progress display replaces the services' INFO lines.
        configure_logging(settings.logging.model_copy(update={"level": "WARNING"}))
    else:
        configure_logging(settings.logging)
    return settings


def _run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coro)
    except HolodeckError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


@app.command()
def build(
    prompt: Annotated[str, typer.Argument(help="What room to make.")] = DEFAULT_PROMPT,
    out: Annotated[Path, typer.Option(help="Where to write <scene_id>/scene.glb.")] = Path("out"),
    seed: Annotated[int, typer.Option(help="Seed for a reproducible scene.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="End with one JSON line.")] = False,
    timeout: Annotated[float, typer.Option(help="Give up after this many seconds.")] = 300.0,
) -> None:
    """Build one scene with the embedded stack (or against NATS_URL) and save it."""
    settings = _settings(quiet=True)
    _run(_build(settings, prompt, out, seed, as_json, timeout))


async def _build(
    settings: Settings, prompt: str, out: Path, seed: int, as_json: bool, timeout: float
) -> None:
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

    async with running_stack(settings, WORKERS) as stack:
        with progress:
            watch = await request_scene(stack.nc, prompt, seed=seed, timeout=timeout, on_event=show)
        if watch.failed:
            if as_json:
                print(summary(watch, {}))
            raise failure_error(watch)
        assert watch.ready is not None
        paths = await save_artifacts(stack.store, watch.ready, out)
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

    _settings(quiet=True)
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
    try:
        return job()
    except HolodeckError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2) from None


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
) -> None:
    """Run services in this process against NATS_URL (or an embedded server) until stopped."""
    from services.runtime import SERVICES

    settings = _settings()
    chosen = SERVICES if names == ["all"] else tuple(dict.fromkeys(names))
    _run(_serve(settings, chosen, port, metrics_port))


@app.command()
def up(
    port: Annotated[int, typer.Option(help="The gateway's HTTP port.")] = 8080,
) -> None:
    """NATS (embedded unless NATS_URL is set), every service and the gateway, until Ctrl-C."""
    from services.runtime import SERVICES

    settings = _settings()
    _run(_serve(settings, SERVICES, port, None))


async def _serve(
    settings: Settings, names: tuple[str, ...], port: int | None, metrics_port: int | None
) -> None:
    from services.gateway.app import run_gateway
    from services.runtime import DEFAULT_PORTS, WORKERS
    from services.stack import probe_app, running_stack, serve_http

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    workers = tuple(n for n in names if n in WORKERS)
    async with running_stack(settings, names) as stack:
        jobs: list[Coroutine[Any, Any, Any]] = []
        if "gateway" in names:
            gateway_port = port if port is not None else settings.gateway.port
            jobs.append(
                run_gateway(settings, stack.host, settings.gateway.host, gateway_port, stop)
            )
            err.print(f"gateway on http://{settings.gateway.host}:{gateway_port}")
        elif workers:
            probe_port = metrics_port if metrics_port is not None else DEFAULT_PORTS[workers[0]]
            jobs.append(serve_http(probe_app(stack.host), "0.0.0.0", probe_port, stop))
            err.print(f"{'+'.join(workers)}: /health and /metrics on port {probe_port}")
        err.print(f"NATS at {stack.url}; Ctrl-C stops")
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
    """Check the configuration, the workspace, NATS and the status database."""
    settings = _settings(quiet=True)
    ok = _run(_health(settings))
    raise typer.Exit(0 if ok else 1)


async def _health(settings: Settings) -> bool:
    from shared.bus import EmbeddedNats, connect, nats_server_binary

    checks: list[tuple[str, bool, str]] = [("config", True, "valid")]
    root = settings.storage.root
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / ".health"
        probe.write_text("ok")
        probe.unlink()
        checks.append(("workspace", True, str(root)))
    except OSError as exc:
        checks.append(("workspace", False, f"{root}: {exc.strerror}"))
    server: EmbeddedNats | None = None
    url = settings.nats.url
    try:
        if not url:
            binary = nats_server_binary()
            server = await EmbeddedNats(store_dir=root / "health-nats").start()
            url = server.url
            checks.append(("nats-server", True, binary))
        nc = await connect(url, "holodeck-health")
        js = nc.jetstream()
        info = await js.account_info()
        checks.append(("nats", True, f"{url} (JetStream, {info.streams} streams)"))
        await nc.close()
    except (HolodeckError, Exception) as exc:
        checks.append(("nats", False, str(exc)))
    finally:
        if server is not None:
            await server.stop()
    try:
        from services.gateway.projection import Projection

        projection = await Projection(settings.database_url).open()
        checks.append(("database", True, _redact(settings.database_url)))
        await projection.close()
    except Exception as exc:
        checks.append(("database", False, f"{_redact(settings.database_url)}: {exc}"))
    for name, ok, detail in checks:
        mark = "[green]✓[/green]" if ok else "[red]✗[/red]"
        err.print(f"{mark} {name}: {detail}")
    return all(ok for _, ok, _ in checks)


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


@projection_app.command("rebuild")
def projection_rebuild() -> None:
    """Rebuild the gateway's status database from the start of the event stream."""
    settings = _settings()
    count = _run(_rebuild(settings))
    err.print(f"applied {count} events")


async def _rebuild(settings: Settings) -> int:
    from services.gateway.projection import Projection
    from services.gateway.projector import rebuild
    from services.stack import running_stack

    async with running_stack(settings, ()) as stack:
        projection = await Projection(settings.database_url).open()
        try:
            await projection.reset()
            return await rebuild(stack.host.js, settings.nats.stream, projection)
        finally:
            await projection.close()


def main() -> None:  # pragma: no cover - console entry
    with contextlib.suppress(BrokenPipeError):
        app()
    sys.exit(0)


@session_app.command("info")
def session_info() -> None:
    """Where the workspace is and what it holds."""
    from shared.config import config_path

    settings = _settings(quiet=True)
    root = settings.storage.root
    table = Table(show_header=False, box=None)
    table.add_row("workspace", str(root))
    table.add_row("config file", str(config_path() or "none (environment and defaults)"))
    table.add_row("NATS", settings.nats.url or f"embedded, store {root / 'nats'}")
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
) -> None:
    """The scenes made in this workspace (the status database, brought up to date first)."""
    settings = _settings(quiet=True)
    page = _run(_session_list(settings, limit, status))
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
    from services.gateway.projection import Projection, Status
    from services.gateway.projector import catch_up
    from services.stack import running_stack

    wanted = None
    if status is not None:
        try:
            wanted = Status(status.upper())
        except ValueError:
            choices = ", ".join(s.value for s in Status)
            raise BadInput(f"unknown status {status!r}; choose from {choices}") from None
    projection = await Projection(settings.database_url).open()
    try:
        async with running_stack(settings, ()) as stack:
            await catch_up(stack.host.js, settings.nats.stream, projection)
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
    from shared.metrics import resident_memory_bytes

    settings = _settings(quiet=True)
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
