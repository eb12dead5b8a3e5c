"""The embedded nats-server: one owner per store, found by other commands, never orphaned;
a port that does not speak NATS is named as such at once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared.bus import (
    SERVER_FILE,
    EmbeddedNats,
    NotNats,
    StoreBusy,
    ensure_reachable,
    read_server_record,
    store_held,
    store_owner,
    workspace_server,
)

DEADLINE_S = 20.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return not state.startswith("Z")


def freeze(pid: int) -> None:
    """SIGSTOP, and wait until every thread has stopped: until then one of them may still
    accept a connection and greet it, or act on a signal."""
    os.kill(pid, signal.SIGSTOP)
    deadline = time.monotonic() + DEADLINE_S
    while True:
        states = [
            (task / "stat").read_text().split(") ", 1)[1][:1]
            for task in Path(f"/proc/{pid}/task").iterdir()
        ]
        if all(state == "T" for state in states):
            return
        assert time.monotonic() < deadline, f"process {pid} did not stop: {states}"
        time.sleep(0.01)


def wait_until_gone(pid: int, timeout: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        assert time.monotonic() < deadline, f"process {pid} still runs after {timeout} s"
        time.sleep(0.05)


async def test_a_second_server_on_the_same_store_is_refused_and_the_first_is_found(
    tmp_path: Path,
):
    store = tmp_path / "nats"
    assert store_owner(store) is None
    async with EmbeddedNats(store_dir=store) as first:
        record = store_owner(store)
        assert record is not None and record.url == first.url
        assert record.owner_pid == os.getpid()

        with pytest.raises(StoreBusy) as refused:
            await EmbeddedNats(store_dir=store).start()
        assert refused.value.record == record
        assert first.url in refused.value.message

        url, owned = await workspace_server(store, timeout=5)
        assert (url, owned) == (first.url, None), "a second command uses the running server"
    assert store_owner(store) is None
    assert not (store / SERVER_FILE).exists()
    async with EmbeddedNats(store_dir=store) as again:  # the store is free once stopped
        assert read_server_record(store) is not None
        assert again.url != ""


async def test_a_held_store_whose_server_does_not_answer_is_a_clear_error(tmp_path: Path):
    store = tmp_path / "nats"
    async with EmbeddedNats(store_dir=store) as server:
        assert server._process is not None
        freeze(server._process.pid)  # holds the lock, answers nothing
        try:
            started = time.monotonic()
            with pytest.raises(StoreBusy, match="does not answer"):
                await workspace_server(store, timeout=2)
            assert time.monotonic() - started < 10
        finally:
            server._process.send_signal(signal.SIGCONT)


async def test_a_server_stopped_without_waiting_keeps_the_store_until_it_ends(tmp_path: Path):
    store = tmp_path / "nats"
    first = await EmbeddedNats(store_dir=store).start()
    process = first._process
    assert process is not None
    freeze(process.pid)  # it cannot end (flush its store) until let go
    try:
        started = time.monotonic()
        await first.stop(wait=False)
        assert time.monotonic() - started < 5, "the owner does not wait for the server"
        assert _alive(process.pid)
        assert store_held(store), "the server on its way out still holds the store"
        assert store_owner(store) is None and not (store / SERVER_FILE).exists()
        with pytest.raises(StoreBusy, match="another process"):
            await workspace_server(store, timeout=0.5)  # no second server, no client of it
    finally:
        process.send_signal(signal.SIGCONT)

    url, second = await workspace_server(store, timeout=DEADLINE_S)  # waits for the store
    assert second is not None, "once the old server has ended, a new one owns the store"
    try:
        assert url == second.url and store_owner(store) is not None
        deadline = time.monotonic() + DEADLINE_S
        while process.returncode is None:  # ended and reaped: no zombie is left behind
            assert time.monotonic() < deadline, f"server {process.pid} was not reaped"
            await asyncio.sleep(0.05)
    finally:
        await second.stop()


OWNER = """
import asyncio, sys
from pathlib import Path
from shared.bus import EmbeddedNats

async def main():
    server = await EmbeddedNats(store_dir=Path(sys.argv[1])).start()
    print(server._process.pid, flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_the_server_never_outlives_its_parent(tmp_path: Path, how: signal.Signals):
    store = tmp_path / "nats"
    parent = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(store)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    server_pid = 0
    try:
        assert parent.stdout is not None
        server_pid = int(parent.stdout.readline())
        assert _alive(server_pid)
        parent.send_signal(how)
        parent.wait(timeout=DEADLINE_S)
        wait_until_gone(server_pid)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if server_pid and _alive(server_pid):  # the test failed: leave no orphan behind
            os.kill(server_pid, signal.SIGKILL)
    # The lock ends with the server's last thread: the main thread of a multi-threaded
    # server shows as a zombie while its other threads are still closing its files.
    deadline = time.monotonic() + DEADLINE_S
    while store_owner(store) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store_owner(store) is None, "the store's lock ends with its server"


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A port that accepts connections and never says a word (as PostgreSQL does)."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()


async def test_a_port_that_is_not_nats_is_named_at_once(silent_port: int):
    started = time.monotonic()
    with pytest.raises(NotNats, match="not a NATS server"):
        await ensure_reachable(f"nats://127.0.0.1:{silent_port}", timeout=30)
    assert time.monotonic() - started < 5


async def test_a_port_that_answers_something_else_is_named(tmp_path: Path):
    async def http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(http, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(NotNats, match=r"HTTP/1\.1 400"):
            await ensure_reachable(f"nats://127.0.0.1:{port}", timeout=30)
    finally:
        server.close()


async def test_a_real_server_passes_the_greeting_check(nats_url: str):
    await ensure_reachable(nats_url, timeout=5)
