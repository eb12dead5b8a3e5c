"""``holodeck replay``, ``holodeck cancel`` and ``holodeck deadletters``: recovery commands.

They act on the configured NATS (``NATS_URL``) or the workspace's running embedded
server, through :mod:`services.recovery`. :func:`register` adds them to the CLI; the CLI
hands in how it runs a coroutine and loads settings, so every failure ends as its one
line and exit code. The bus client and :mod:`services.recovery` are imported by the
commands that use them (see :mod:`services.cli`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

from shared.errors import BadInput

if TYPE_CHECKING:
    from rich.progress import Progress

    from services.recovery import Plan, Recovery, Stage
    from shared.config import Settings
    from shared.contract import DeadLetter

T = TypeVar("T")
Runner = Callable[[Coroutine[Any, Any, T]], T]

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_when(value: str | None, now: datetime | None = None) -> datetime | None:
    """``2h`` (that long ago), an ISO time (``2026-12-04T10:00``, UTC unless it says) or None."""
    if value is None:
        return None
    now = now or datetime.now(UTC)
    text = value.strip().lower()
    match = _DURATION.match(text)
    if match:
        return now - timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadInput(
            f"cannot read the time {value!r}: give a duration such as 30m, 2h, 1d "
            "or an ISO time such as 2026-12-04T10:00"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_rate(value: str | None) -> float | None:
    """``5/s``, ``300/m`` or a bare number of scenes per second."""
    if value is None:
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(?:/\s*([smh]))?\s*", value)
    if not match or float(match.group(1)) <= 0:
        raise BadInput(f"cannot read the rate {value!r}: give scenes per time, such as 5/s")
    return float(match.group(1)) / _UNITS[match.group(2) or "s"]


def _stage(value: str | None) -> Stage | None:
    from services.recovery import STAGES

    if value is None:
        return None
    if value not in STAGES:
        raise BadInput(f"unknown stage {value!r}; choose from {', '.join(STAGES)}")
    return value


@contextlib.asynccontextmanager
async def _recovery(settings: Settings, by: str) -> AsyncIterator[Recovery]:
    from services.recovery import Recovery
    from services.runtime import open_store
    from services.stack import nats_endpoint
    from shared.bus import connect

    async with nats_endpoint(settings) as (url, _):
        nc = await connect(url, f"holodeck-{by}", settings.nats)
        try:
            max_age = settings.nats.max_age_days * 86400
            js = nc.jetstream()
            store = await open_store(settings, js)
            yield await Recovery.open(js, settings.nats.stream, max_age, by, store)
        finally:
            await nc.close()


async def replay_scenes(
    settings: Settings,
    scene_id: str | None,
    from_stage: Stage | None,
    failed: bool,
    window_stage: Stage | None,
    since: datetime | None,
    until: datetime | None,
    code: str | None,
    dry_run: bool,
    rate: float | None,
    reason: str,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Plan (and unless ``dry_run``, carry out) the replays the options select."""
    started = time.monotonic()
    async with _recovery(settings, "replay") as recovery:
        if scene_id is not None:
            targets = [scene_id]
        elif failed:
            targets = await recovery.failed_scenes(since, until, from_stage, code)
        else:
            assert window_stage is not None
            targets = await recovery.touched_by(window_stage, since, until)
            from_stage = window_stage
        plans: list[Plan] = []
        task = progress.add_task("replaying", total=len(targets)) if progress else None
        for k, target in enumerate(targets):
            plan = await recovery.plan(target, from_stage)
            if not dry_run:
                if rate:
                    # Paced from the start, so a slow publish does not add to the gap.
                    await asyncio.sleep(max(started + k / rate - time.monotonic(), 0.0))
                await recovery.replay(plan, reason)
            plans.append(plan)
            if progress is not None and task is not None:
                progress.advance(task)
        redone: dict[str, int] = {}
        reused: dict[str, int] = {}
        for plan in plans:
            for stage, n in plan.redone.items():
                redone[stage] = redone.get(stage, 0) + n
            for stage, n in plan.reused.items():
                reused[stage] = reused.get(stage, 0) + n
        return {
            "dry_run": dry_run,
            "scenes": len(plans),
            "replayed": [p.summary() for p in plans],
            "redone": redone,
            "reused": reused,
            "seconds": round(time.monotonic() - started, 3),
        }


async def cancel_scene(settings: Settings, scene_id: str, reason: str) -> dict[str, Any]:
    async with _recovery(settings, "cancel") as recovery:
        state = await recovery.cancel(scene_id, reason)
        return {"scene_id": scene_id, "attempt": state.attempt, "status": state.state}


async def dead_letters(settings: Settings, limit: int) -> tuple[list[DeadLetter], str | None]:
    """The newest dead letters, newest first: the stages' (in the stream) and the gateway
    projection's own (kept only in its status database); and why the database's could not
    be read, if they could not."""
    from shared.contract import DeadLetter, Subject

    found: dict[tuple[str, int], DeadLetter] = {}
    async with _recovery(settings, "deadletters") as recovery:
        async for _, event, _ in recovery.events(f"{Subject.DEAD_LETTER}.*", None):
            if isinstance(event, DeadLetter):
                found.setdefault((event.rejected_by, event.stream_seq), event)
    note = None
    try:
        for letter in await _recorded_letters(settings):
            found.setdefault((letter.rejected_by, letter.stream_seq), letter)
    except Exception as exc:
        note = f"the status database's dead letters are not shown: {exc}"
    newest = sorted(found.values(), key=lambda letter: letter.time, reverse=True)
    return newest[:limit], note


async def _recorded_letters(settings: Settings) -> list[DeadLetter]:
    """Every dead letter in the status database, as the event a stage would publish."""
    from services.gateway.projection import Projection
    from shared.contract import DeadLetter

    letters: list[DeadLetter] = []
    projection = await Projection(settings.database_url).open()
    try:
        page = 1
        while True:
            rows = await projection.list_dead_letters(page=page, page_size=500)
            for row in rows.items:
                letters.append(
                    # As recorded (the database keeps what the event model may not).
                    DeadLetter.model_construct(
                        time=row.recorded_at,
                        producer=row.rejected_by,
                        rejected_by=row.rejected_by,
                        subject=row.subject,
                        stream_seq=row.stream_seq,
                        scene_id=row.scene_id,
                        reason=row.reason,
                        size=row.size,
                        excerpt=row.excerpt,
                    )
                )
            if page * 500 >= rows.total:
                return letters
            page += 1
    finally:
        await projection.close()


async def resubmit(settings: Settings, sequences: list[int]) -> int:
    """Publish the original messages of these dead letters again, on their own subjects.

    Only a message a dead letter names is sent, and only while the stream still holds it
    under that sequence (a restored stream numbers its messages anew): a mistyped or stale
    sequence would otherwise send some other event of the pipeline again. Every sequence
    is checked before anything is sent.
    """
    from shared.contract import DeadLetter, Subject

    async with _recovery(settings, "deadletters") as recovery:
        named: dict[int, str] = {}
        async for _, event, _ in recovery.events(f"{Subject.DEAD_LETTER}.*", None):
            if isinstance(event, DeadLetter):
                named.setdefault(event.stream_seq, event.subject)
        missing = [seq for seq in sequences if seq not in named]
        if missing:
            named.update(await _recorded_dead_letters(settings, set(missing)))
        found = []
        for seq in sequences:
            if seq not in named:
                raise BadInput(f"no dead letter names message {seq}: see holodeck deadletters list")
            try:
                raw = await recovery.js.get_msg(settings.nats.stream, seq)
            except Exception as exc:
                raise BadInput(f"no message {seq} in the stream ({exc})") from None
            if raw.subject != named[seq]:
                raise BadInput(
                    f"message {seq} is now {raw.subject!r}, not the rejected {named[seq]!r} "
                    "(the stream was renumbered, as a restore does): nothing was resubmitted"
                )
            found.append((named[seq], raw.data or b""))
        for name, data in found:
            await recovery.js.publish(name, data)
    return len(found)


async def _recorded_dead_letters(settings: Settings, sequences: set[int]) -> dict[int, str]:
    """Dead letters of these sequences in the status database (the gateway's own rejections
    are kept there only): sequence -> subject."""
    return {
        letter.stream_seq: letter.subject
        for letter in await _recorded_letters(settings)
        if letter.stream_seq in sequences
    }


async def purge(settings: Settings, rejected_by: str | None) -> tuple[int, int]:
    """Remove dead letters from the stream and from the status database (all, or those of
    one consumer); how many went from each."""
    from services.gateway.projection import Projection
    from shared.contract import Subject, subject

    async with _recovery(settings, "deadletters") as recovery:
        name = (
            subject(Subject.DEAD_LETTER, rejected_by) if rejected_by else f"{Subject.DEAD_LETTER}.*"
        )
        info = await recovery.js.stream_info(settings.nats.stream, subjects_filter=name)
        count = sum((info.state.subjects or {}).values())
        if count:
            await recovery.js.purge_stream(settings.nats.stream, subject=name)
    projection = await Projection(settings.database_url).open()
    try:
        rows = await projection.purge_dead_letters(rejected_by)
    finally:
        await projection.close()
    return count, rows


def register(app: typer.Typer, run: Runner[Any], load: Callable[..., Settings]) -> None:
    """Add ``replay``, ``cancel`` and ``deadletters`` to ``app``."""
    out = Console()
    err = Console(stderr=True)

    @app.command()
    def replay(
        scene_id: Annotated[str | None, typer.Argument(help="One scene to replay.")] = None,
        from_: Annotated[
            str | None,
            typer.Option("--from", help="Stage to start from (default: where it failed)."),
        ] = None,
        failed: Annotated[
            bool, typer.Option(help="Every scene that failed in the window.")
        ] = False,
        stage: Annotated[
            str | None,
            typer.Option(
                help="With --failed: only failures at this stage. Alone: redo this "
                "stage for every scene it touched in the window."
            ),
        ] = None,
        code: Annotated[str | None, typer.Option(help="With --failed: this error code.")] = None,
        since: Annotated[str | None, typer.Option(help="Window start: 2h, 30m or a time.")] = None,
        until: Annotated[str | None, typer.Option(help="Window end: a duration or a time.")] = None,
        rate: Annotated[
            str | None, typer.Option(help="At most this many scenes: 5/s, 100/m.")
        ] = None,
        dry_run: Annotated[bool, typer.Option(help="List what would be replayed.")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="One JSON line.")] = False,
        reason: Annotated[str, typer.Option(help="Why, for the record.")] = "replay",
    ) -> None:
        """Redo scenes as a new attempt, reusing what earlier stages made."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
        from rich.table import Table

        selections = sum([scene_id is not None, failed, stage is not None and not failed])
        if selections != 1:
            raise BadInput("give a SCENE_ID, or --failed, or --stage with a window")
        if scene_id is not None and (since or until or code):
            raise BadInput("--since, --until and --code select scenes: not with a SCENE_ID")
        if failed and from_:
            raise BadInput("with --failed each scene replays from where it failed; use --stage")
        settings = load(quiet=True)
        # One scene: from --from. --failed: --stage filters (and is where they failed).
        # A window: --stage is the stage to redo.
        start = _stage(from_) if scene_id is not None else _stage(stage)
        window_stage = _stage(stage) if not failed and scene_id is None else None
        when_since, when_until = parse_when(since), parse_when(until)
        pace = parse_rate(rate)
        progress = (
            None
            if as_json
            else Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err
            )
        )
        if progress is not None:
            progress.start()
        try:
            result = run(
                replay_scenes(
                    settings, scene_id, start, failed, window_stage, when_since,
                    when_until, code, dry_run, pace, reason, progress,
                )
            )  # fmt: skip
        finally:
            if progress is not None:
                progress.stop()
        if as_json:
            print(json.dumps(result), flush=True)
            return
        table = Table("scene", "attempt", "from", "was", "redone", "reused")
        for item in result["replayed"]:
            table.add_row(
                item["scene_id"], str(item["attempt"]), item["from"], item["previous"],
                ", ".join(f"{k} {v}" for k, v in item["redone"].items()),
                ", ".join(f"{k} {v}" for k, v in item["reused"].items()),
            )  # fmt: skip
        out.print(table)
        verb = "would replay" if dry_run else "replayed"
        err.print(f"{verb} {result['scenes']} scenes in {result['seconds']:.1f} s")

    @app.command()
    def cancel(
        scene_id: Annotated[str, typer.Argument(help="The scene to stop.")],
        reason: Annotated[str, typer.Option(help="Why, for the record.")] = "cancelled",
        as_json: Annotated[bool, typer.Option("--json", help="One JSON line.")] = False,
    ) -> None:
        """Stop a scene: every stage drops its work; it can be replayed later."""
        settings = load(quiet=True)
        result = run(cancel_scene(settings, scene_id, reason))
        if as_json:
            print(json.dumps(result), flush=True)
        elif result["status"] == "CANCELLED":
            err.print(f"{scene_id}: cancelled (attempt {result['attempt']})")
        else:
            err.print(f"{scene_id}: had already ended {result['status']}; nothing to cancel")

    letters = typer.Typer(help="Messages set aside because they could not be read.")
    app.add_typer(letters, name="deadletters")

    @letters.command("list")
    def list_letters(
        limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
        as_json: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False,
    ) -> None:
        """The dead letters of the stages and the gateway, newest first."""
        from rich.table import Table

        settings = load(quiet=True)
        found, note = run(dead_letters(settings, limit))
        if note is not None:
            err.print(f"warning: {note}", soft_wrap=True)
        if as_json:
            for letter in found:
                print(letter.model_dump_json(), flush=True)
            return
        table = Table("seq", "by", "subject", "scene", "reason", "time")
        for letter in found:
            table.add_row(
                str(letter.stream_seq), letter.rejected_by, letter.subject,
                letter.scene_id or "", letter.reason[:80], letter.time.strftime("%H:%M:%S"),
            )  # fmt: skip
        out.print(table)

    @letters.command("resubmit")
    def resubmit_letters(
        seqs: Annotated[list[int], typer.Argument(help="Stream sequences of rejected messages.")],
    ) -> None:
        """Publish rejected messages again (once what rejected them is fixed)."""
        settings = load(quiet=True)
        sent = run(resubmit(settings, seqs))
        err.print(f"resubmitted {sent} messages")

    @letters.command("purge")
    def purge_letters(
        rejected_by: Annotated[
            str | None, typer.Option("--by", help="Only those one consumer rejected.")
        ] = None,
        yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
    ) -> None:
        """Remove dead letters from the stream."""
        if not yes:
            raise BadInput("purging removes dead letters for good: add --yes")
        settings = load(quiet=True)
        in_stream, in_database = run(purge(settings, rejected_by))
        err.print(
            f"removed {in_stream} dead letters from the stream and {in_database} from the "
            "status database"
        )
