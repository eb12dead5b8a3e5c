"""Dead letters as an operator handles them: listed, resubmitted and purged by the CLI
against the workspace's running stack."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from services.runtime import WORKERS
from services.stack import running_stack
from shared.config import load_settings
from shared.contract import STREAM, DeadLetter, SceneCancelled, Subject, encode, subject
from tests.helpers import run_cli


async def test_deadletters_list_resubmit_purge(workspace: Path) -> None:
    settings = load_settings(storage={"workspace": workspace}, logging={"level": "WARNING"})
    async with running_stack(settings, WORKERS) as stack:
        js = stack.nc.jetstream()
        ack = await js.publish(subject(Subject.IMAGES_READY, "s1", "o1"), b"{not json")
        letter_subject = subject(Subject.DEAD_LETTER, "meshgen")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            info = await js.stream_info(STREAM, subjects_filter=letter_subject)
            if info.state.subjects:
                break
            await asyncio.sleep(0.1)

        listed = await asyncio.to_thread(
            run_cli, "deadletters", "list", "--json", workspace=workspace
        )
        assert listed.returncode == 0, listed.stderr
        [letter] = [json.loads(line) for line in listed.stdout.splitlines()]
        assert letter["stream_seq"] == ack.seq and letter["rejected_by"] == "meshgen"
        assert letter["subject"] == "images.ready.s1.o1" and letter["scene_id"] == "s1"
        # The gateway's projection rejects it too, and keeps that in its database only:
        # the list shows both.
        rebuilt = await asyncio.to_thread(run_cli, "projection", "rebuild", workspace=workspace)
        assert rebuilt.returncode == 0, rebuilt.stderr
        listed = await asyncio.to_thread(
            run_cli, "deadletters", "list", "--json", workspace=workspace
        )
        assert listed.returncode == 0 and not listed.stderr, listed.stderr
        both = [json.loads(line) for line in listed.stdout.splitlines()]
        assert sorted((b["rejected_by"], b["stream_seq"]) for b in both) == [
            ("gateway", ack.seq),
            ("meshgen", ack.seq),
        ]

        again = await asyncio.to_thread(
            run_cli, "deadletters", "resubmit", str(ack.seq), workspace=workspace
        )
        assert again.returncode == 0 and "resubmitted 1" in again.stderr
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            info = await js.stream_info(STREAM, subjects_filter=letter_subject)
            if sum((info.state.subjects or {}).values()) == 2:
                break  # still malformed, so rejected again, as a new dead letter
            await asyncio.sleep(0.1)
        assert sum((info.state.subjects or {}).values()) == 2

        refused = await asyncio.to_thread(run_cli, "deadletters", "purge", workspace=workspace)
        assert refused.returncode == 2 and "--yes" in refused.stderr
        purged = await asyncio.to_thread(
            run_cli, "deadletters", "purge", "--yes", workspace=workspace
        )
        assert purged.returncode == 0, purged.stderr
        assert "removed 2 dead letters from the stream" in purged.stderr
        info = await js.stream_info(STREAM, subjects_filter=letter_subject)
        assert not info.state.subjects
        # A sequence no dead letter names is some other event: it is not sent again.
        other = await js.publish(
            subject(Subject.SCENE_CANCELLED, "s2"),
            encode(SceneCancelled(scene_id="s2", reason="test")),
        )
        before = (await js.stream_info(STREAM)).state.last_seq
        refused = await asyncio.to_thread(
            run_cli, "deadletters", "resubmit", str(other.seq), workspace=workspace
        )
        assert refused.returncode == 2, refused.stderr
        assert f"no dead letter names message {other.seq}" in refused.stderr
        # A dead letter whose sequence now holds another message (a restored stream is
        # numbered anew) is refused too, and nothing of the list is sent.
        stale = DeadLetter(
            rejected_by="meshgen",
            subject="images.ready.s3.o1",
            stream_seq=other.seq,
            reason="unreadable",
            size=9,
        )
        await js.publish(subject(Subject.DEAD_LETTER, "meshgen"), encode(stale))
        after_letter = (await js.stream_info(STREAM)).state.last_seq
        assert after_letter == before + 1
        renumbered = await asyncio.to_thread(
            run_cli, "deadletters", "resubmit", str(other.seq), workspace=workspace
        )
        assert renumbered.returncode == 2, renumbered.stderr
        assert "renumbered" in renumbered.stderr and "scene.cancelled.s2" in renumbered.stderr
        assert (await js.stream_info(STREAM)).state.last_seq == after_letter
        unknown = await asyncio.to_thread(
            run_cli, "deadletters", "resubmit", "999999", workspace=workspace
        )
        assert unknown.returncode == 2, unknown.stderr
        assert "no dead letter names message 999999" in unknown.stderr
