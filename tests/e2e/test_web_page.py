"""The gateway's web page in a real headless browser: ``holodeck up`` (embedded NATS, every
service, the gateway) in a private workspace, and Debian's Chromium driven by
playwright-core (``tests/tools/web_page.mjs``): a prompt submitted, its progress followed
to 100 %, the 3D viewer drawing the scene (its pixels read back), an object's name on
hover, a screenshot, and /docs from the gateway's own Swagger UI, with no request leaving
the gateway."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.helpers import HOLODECK

TOOLS = Path(__file__).resolve().parent.parent / "tools"
DRIVER = TOOLS / "web_page.mjs"
PLAYWRIGHT = TOOLS / "node_modules" / "playwright-core" / "package.json"
CHROMIUM = Path("/usr/bin/chromium")
PROMPT = "a small office with a desk, an office chair, a bookshelf and a plant"
START_S = 60.0


def browser_tools() -> str:
    """The node binary, once Chromium and playwright-core are there; else the test fails
    with the command that installs what is missing."""
    node = shutil.which("node")
    if node is None:
        pytest.fail(
            "Node.js is not installed: install Node.js 18+, then `npm ci --prefix tests/tools`"
        )
    if not CHROMIUM.is_file():
        pytest.fail(
            f"Chromium is not installed ({CHROMIUM} is missing): run `apt-get install -y chromium`"
        )
    if not PLAYWRIGHT.is_file():
        pytest.fail(
            f"playwright-core is not installed ({PLAYWRIGHT} is missing): "
            "run `npm ci --prefix tests/tools`"
        )
    return node


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


API_KEY = "page-test-key-0123456789abcdef"
KEYS = json.dumps([{"name": "page", "key": API_KEY, "permissions": ["read", "write"]}])


@dataclass
class Gateway:
    url: str
    key: str | None


@pytest.fixture
def gateway(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Gateway]:
    """``holodeck up`` on a free port, as a newcomer runs it (with an API key when the
    test asks for one); its URL once healthy."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOLODECK_", "HOLDECK_"))}
    env.pop("NATS_URL", None)
    env["HOLODECK_WORKSPACE"] = str(tmp_path / "workspace")
    key = API_KEY if getattr(request, "param", None) == "keyed" else None
    if key is not None:
        env["HOLODECK_SECURITY__API_KEYS"] = KEYS
    log = tmp_path / "up.log"
    process = subprocess.Popen(
        [HOLODECK, "up", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "wb"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_S
        while True:
            assert process.poll() is None, f"holodeck up exited: {log.read_text()[-2000:]}"
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (
                f"the gateway did not start: {log.read_text()[-2000:]}"
            )
            time.sleep(0.1)
        yield Gateway(url, key)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)


@pytest.mark.parametrize("gateway", ["open", "keyed"], indirect=True)
def test_the_page_builds_a_scene_and_shows_it(gateway: Gateway, tmp_path: Path) -> None:
    """Without keys (a newcomer's loopback gateway), and with one: then the page first
    fails to list scenes, and every request, the event streams included, carries the key
    typed into it."""
    node = browser_tools()
    screenshot = tmp_path / "page.png"
    key = [gateway.key] if gateway.key else []
    done = subprocess.run(
        [node, str(DRIVER), gateway.url, PROMPT, str(screenshot), str(CHROMIUM), *key],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, f"the browser run failed: {done.stderr[-3000:]}"
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"screenshot: {screenshot}")

    assert seen["status"] == "SUCCEEDED"
    assert "100 %" in seen["progressSeen"], seen["progressSeen"]
    pixels = seen["pixels"]
    # The viewer drew the room, not only its background: a good part of the canvas, in
    # many colours (shading, textures).
    assert pixels["drawn"] > pixels["total"] * 0.1, pixels
    assert pixels["colours"] > 30, pixels
    assert seen["hovered"] and " · " in seen["hovered"], "an object's name shows on hover"
    assert sorted(seen["downloads"]) == ["⬇ floorplan.png", "⬇ layout.json", "⬇ scene.glb"]
    assert seen["objects"] >= 4
    assert seen["listed"][0] == seen["sceneId"], "the new scene heads the recent list"
    assert seen["docsOperations"] >= 10, "the local Swagger UI lists the API"
    assert seen["outside"] == [], "every script and style comes from the gateway"
    assert seen["problems"] == [], seen["problems"]
    assert screenshot.stat().st_size > 20_000
    if gateway.key:
        assert "key" in seen["refusedWithoutKey"].lower(), seen["refusedWithoutKey"]
    print(f"without the key: {seen['refusedWithoutKey']}")
