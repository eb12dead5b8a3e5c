"""The CLI as a user runs it, in separate processes: bad input is one line on stderr and a
non-zero exit at once; commands share the workspace's running server; nothing outlives them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.bus import SERVER_FILE, read_server_record, store_owner

HOLODECK = str(Path(sys.executable).parent / "holodeck")
# A refusal must come before anything starts: imports only, on a busy machine.
PROMPT_REFUSAL_S = 15.0
COMMAND_S = 120.0


def cli_env(workspace: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOLODECK_", "HOLDECK_"))}
    env.pop("NATS_URL", None)
    env["HOLODECK_WORKSPACE"] = str(workspace)
    env["COLUMNS"] = "200"
    env.update(extra or {})
    return env


def run_cli(
    *args: str, workspace: Path, extra: dict[str, str] | None = None, timeout: float = COMMAND_S
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HOLODECK, *args],
        capture_output=True,
        text=True,
        env=cli_env(workspace, extra),
        timeout=timeout,
        check=False,
    )


def start_cli(*args: str, workspace: Path, extra: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [HOLODECK, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(workspace, extra),
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode != 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]


def wait_for_owner(store: Path, pid: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        record = read_server_record(store)
        if record is not None and record.owner_pid == pid:
            return
        assert time.monotonic() < deadline, f"process {pid} did not start a server on {store}"
        time.sleep(0.05)


def wait_until_gone(pid: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1]
        except (FileNotFoundError, ProcessLookupError):
            return
        if state.startswith("Z"):
            return  # exited, waiting to be reaped
        assert time.monotonic() < deadline, f"process {pid} still runs after {timeout} s"
        time.sleep(0.05)


def wait_for_client(monitor_port: int, name: str, timeout: float = 60.0) -> None:
    """Until a client connection called ``name`` is on the server (its monitoring port)."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx.HTTPError):
            connz = httpx.get(f"http://127.0.0.1:{monitor_port}/connz", timeout=2).json()
            if any(c.get("name") == name for c in connz.get("connections", [])):
                return
        assert time.monotonic() < deadline, f"no client {name} after {timeout} s"
        time.sleep(0.1)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
    process.communicate(timeout=COMMAND_S)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never speaks first, as PostgreSQL does."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []
    closing = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not closing.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    closing.set()
    thread.join(timeout=5)
    for conn in held:
        conn.close()
    listener.close()


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["build", ""], ["prompt is empty"]),
        (["build", "   "], ["prompt is empty"]),
        (["build", "x" * 3000], ["3000 characters", "at most 2000", "request contract"]),
        (["plan", "x" * 3000], ["3000 characters", "at most 2000"]),
        (["build", "a kitchen", "--seed", "-1"], ["seed"]),
        (["build", "a kitchen", "--timeout", "0"], ["--timeout"]),
        (["debug", "performance", "--prompt", ""], ["prompt is empty"]),
        (["serve", "foo"], ["unknown service 'foo'", "planner"]),
        (["serve", "planner", "foo"], ["unknown service 'foo'"]),
        (["session", "list", "--status", "bogus"], ["unknown status"]),
        (["frobnicate"], ["No such command"]),
    ],
)
def test_bad_input_is_one_line_at_once_and_starts_nothing(
    workspace: Path, args: list[str], needles: list[str]
):
    started = time.monotonic()
    result = run_cli(*args, workspace=workspace, timeout=60)
    assert time.monotonic() - started < PROMPT_REFUSAL_S
    assert result.returncode == 2, result.stderr
    assert_one_line_error(result, *needles)
    assert not (workspace / "nats").exists(), "nothing may start on bad input"


def test_a_lower_configured_prompt_limit_is_named(workspace: Path):
    result = run_cli(
        "build", "a kitchen with a red fridge", workspace=workspace,
        extra={"HOLODECK_PLANNER__MAX_PROMPT_CHARS": "10"},
    )  # fmt: skip
    assert result.returncode == 2
    assert_one_line_error(result, "at most 10", "planner.max_prompt_chars")
    assert not (workspace / "nats").exists()


def test_an_unusable_out_is_refused_before_building(tmp_path: Path, workspace: Path):
    a_file = tmp_path / "taken"
    a_file.write_text("not a directory")
    for out, needle in [(a_file, "is a file"), (a_file / "below", "Not a directory")]:
        result = run_cli("build", "a kitchen", "--out", str(out), workspace=workspace)
        assert result.returncode == 2
        assert_one_line_error(result, "--out", needle)
    assert not (workspace / "nats").exists(), "the scene must not be built first"


@pytest.mark.parametrize(
    "command", [["build", "a kitchen", "--timeout", "30"], ["debug", "health"]]
)
def test_nats_url_at_a_port_that_is_not_nats(workspace: Path, silent_port: int, command: list[str]):
    started = time.monotonic()
    result = run_cli(
        *command, workspace=workspace, extra={"NATS_URL": f"nats://127.0.0.1:{silent_port}"}
    )
    assert time.monotonic() - started < 25, "must not wait for --timeout, let alone forever"
    if command[0] == "build":
        assert_one_line_error(result, f"127.0.0.1:{silent_port}", "not a NATS server")
    else:
        assert result.returncode == 1
        assert "not a NATS server" in result.stderr and "Traceback" not in result.stderr


# Images on a ComfyUI that is never there: the build keeps retrying until stopped.
STUCK = {
    "HOLODECK_IMAGE_GENERATION__DEFAULT_BACKEND": "comfyui",
    "HOLODECK_LLM__RETRY_ATTEMPTS": "1",
}


def _stuck_env() -> dict[str, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return {**STUCK, "COMFYUI_API_URL": f"http://127.0.0.1:{port}"}


def test_timeout_bounds_the_whole_build(workspace: Path, tmp_path: Path):
    started = time.monotonic()
    result = run_cli(
        "build", "a kitchen", "--timeout", "4", "--out", str(tmp_path / "out"),
        workspace=workspace, extra=_stuck_env(),
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert "gave up after 4 s while building the scene" in result.stderr
    assert "Traceback" not in result.stderr
    assert elapsed < 4 + 25, f"{elapsed:.1f} s"
    assert store_owner(workspace / "nats") is None


def test_sigterm_stops_a_build_and_its_server(workspace: Path, tmp_path: Path):
    build = start_cli(
        "build", "a kitchen", "--out", str(tmp_path / "out"),
        workspace=workspace, extra=_stuck_env(),
    )  # fmt: skip
    try:
        wait_for_owner(workspace / "nats", build.pid)
        record = read_server_record(workspace / "nats")
        assert record is not None
        build.send_signal(signal.SIGTERM)
        _, stderr = build.communicate(timeout=COMMAND_S)
    finally:
        stop(build)
    assert build.returncode == 143, stderr
    assert stderr.strip().splitlines()[-1] == "error: stopped by SIGTERM"
    assert "Traceback" not in stderr
    wait_until_gone(record.server_pid)
    assert store_owner(workspace / "nats") is None
    assert not (workspace / "nats" / SERVER_FILE).exists()


def test_log_level_reaches_build_and_health(workspace: Path, tmp_path: Path):
    out = str(tmp_path / "out")
    quiet = run_cli("build", "a kitchen", "--out", out, workspace=workspace)
    assert quiet.returncode == 0, quiet.stderr
    assert "services started" not in quiet.stderr
    for prefix in ("HOLDECK_", "HOLODECK_"):
        loud = run_cli(
            "build", "a kitchen", "--out", out, workspace=workspace,
            extra={f"{prefix}LOG_LEVEL": "INFO"},
        )  # fmt: skip
        assert loud.returncode == 0, loud.stderr
        assert "services started" in loud.stderr
    health = run_cli("debug", "health", workspace=workspace, extra={"HOLDECK_LOG_LEVEL": "DEBUG"})
    assert '"level": "debug"' in health.stderr


def test_commands_share_the_running_server_and_none_outlives_its_owner(
    workspace: Path, tmp_path: Path, nats_server: str
):
    store = workspace / "nats"
    up = start_cli("up", "--port", "0", workspace=workspace)
    try:
        wait_for_owner(store, up.pid)
        owner = read_server_record(store)
        assert owner is not None

        built = run_cli(
            "build", "a small office", "--out", str(tmp_path / "out"), "--json",
            workspace=workspace,
        )  # fmt: skip
        assert built.returncode == 0, built.stderr
        scene_id = json.loads(built.stdout.strip().splitlines()[-1])["scene_id"]
        assert read_server_record(store) == owner, "the build used the running server"

        listing = run_cli("session", "list", workspace=workspace)
        assert listing.returncode == 0, listing.stderr
        assert scene_id in listing.stdout and "SUCCEEDED" in listing.stdout

        health = run_cli("debug", "health", workspace=workspace)
        assert health.returncode == 0, health.stderr
        assert f"{owner.url} (embedded, run by process {up.pid})" in health.stderr
        assert "HOLODECK: " in health.stderr and " messages" in health.stderr

        info = run_cli("session", "info", workspace=workspace)
        assert f"running at {owner.url} (process {up.pid})" in info.stdout

        rebuilt = run_cli("projection", "rebuild", workspace=workspace)
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert int(rebuilt.stderr.strip().splitlines()[-1].split()[1]) > 0

        assert up.poll() is None and read_server_record(store) == owner
        up.send_signal(signal.SIGKILL)
        up.wait(timeout=COMMAND_S)
        wait_until_gone(owner.server_pid)
    finally:
        stop(up)

    # A blank server must not wipe the history the status database holds.
    blank = {"NATS_URL": nats_server_blank(nats_server)}
    refused = run_cli("projection", "rebuild", workspace=workspace, extra=blank)
    assert refused.returncode == 2
    assert_one_line_error(refused, "would empty it")
    listing = run_cli("session", "list", workspace=workspace, extra={"NATS_URL": nats_server})
    assert scene_id in listing.stdout, "the status database was left as it was"

    health = run_cli("debug", "health", workspace=workspace)
    assert "no embedded server running" in health.stderr
    assert store_owner(store) is None, "debug health starts no server"


def nats_server_blank(url: str) -> str:
    """The test's private server, with no stream of ours on it (as a fresh server)."""
    import nats

    async def check() -> None:
        nc = await nats.connect(url)
        try:
            names = await nc.jetstream().streams_info()
            assert not names, "the private server should hold no stream"
        finally:
            await nc.close()

    asyncio.run(check())
    return url


def test_a_client_of_a_server_whose_owner_dies_says_so(workspace: Path, tmp_path: Path):
    store = workspace / "nats"
    stuck = _stuck_env()
    up = start_cli("up", "--port", "0", workspace=workspace, extra=stuck)
    try:
        wait_for_owner(store, up.pid)
        build = start_cli(
            "build", "a kitchen", "--out", str(tmp_path / "out"), workspace=workspace, extra=stuck
        )
        try:
            owner = read_server_record(store)
            assert owner is not None
            wait_for_client(owner.monitor_port, "holodeck-planner+imagegen+meshgen+assembly")
            up.send_signal(signal.SIGKILL)
            up.wait(timeout=COMMAND_S)
            started = time.monotonic()
            _, stderr = build.communicate(timeout=60)
            assert time.monotonic() - started < 30, "must not wait for --timeout"
        finally:
            stop(build)
    finally:
        stop(up)
    assert build.returncode == 1
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("error: the workspace's embedded server") and "stopped" in last
    assert "Traceback" not in stderr
