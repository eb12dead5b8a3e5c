"""The whole system as a user runs it: the CLI, the gateway, a raw NATS publisher."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import httpx
import nats
import trimesh

from services.runtime import SERVICES
from services.stack import running_stack
from shared.bus import free_port
from tests.helpers import run_cli

TIMEOUT = 60.0


def test_build_writes_a_glb_with_one_node_per_object(tmp_path: Path, workspace: Path):
    out = tmp_path / "out"
    result = run_cli(
        "build", "a bedroom with a double bed, two nightstands and a desk",
        "--out", str(out), "--seed", "2", "--json",
        workspace=workspace,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["status"] == "SUCCEEDED"
    glb_path = Path(summary["artifacts"]["scene.glb"])
    assert glb_path.parent == out / summary["scene_id"]
    layout = json.loads(Path(summary["artifacts"]["layout.json"]).read_text())
    object_ids = {obj["id"] for obj in layout["objects"]}
    assert {"nightstand-1", "nightstand-2"} <= object_ids
    scene = trimesh.load(io.BytesIO(glb_path.read_bytes()), file_type="glb")
    assert isinstance(scene, trimesh.Scene)
    node_names = set(scene.graph.nodes)
    assert object_ids <= node_names
    for object_id in object_ids:
        assert sum(1 for n in node_names if n == object_id) == 1
    assert set(summary["timings"]) >= {"planner_s", "imagegen_s", "meshgen_s", "assembly_s"}
    objects = summary["objects"]
    for stage in ("imagegen", "meshgen"):  # identical objects in one scene may share work
        assert sum(summary["cache"][stage].values()) == objects
        assert summary["cache"][stage]["misses"] > 0
    again = run_cli(
        "build", "a bedroom with a double bed, two nightstands and a desk",
        "--out", str(out), "--seed", "2", "--json",
        workspace=workspace,
    )  # fmt: skip
    second = json.loads(again.stdout.strip().splitlines()[-1])
    assert second["scene_id"] != summary["scene_id"]
    assert second["cache"] == {
        "imagegen": {"hits": objects, "misses": 0},
        "meshgen": {"hits": objects, "misses": 0},
    }, "a second build of the same prompt must make no backend call"

    listing = run_cli("session", "list", workspace=workspace, extra={"COLUMNS": "200"})
    assert listing.returncode == 0, listing.stderr
    assert summary["scene_id"] in listing.stdout and "SUCCEEDED" in listing.stdout
    info = run_cli("session", "info", workspace=workspace, extra={"COLUMNS": "200"})
    assert str(workspace) in info.stdout


def test_build_rejects_bad_config_naming_the_field(workspace: Path):
    result = run_cli("build", "a kitchen", workspace=workspace, extra={"HOLDECK_WORKERS": "many"})
    assert result.returncode == 2
    assert "performance.concurrent_workers" in result.stderr
    assert not (workspace / "nats").exists(), "nothing may start on invalid configuration"


async def wait_for_status(client: httpx.AsyncClient, url: str, wanted: str) -> dict:
    async with asyncio.timeout(TIMEOUT):
        while True:
            response = await client.get(url)
            if response.status_code == 200 and response.json()["status"] in (wanted, "FAILED"):
                return response.json()
            await asyncio.sleep(0.1)


async def test_gateway_reports_success_and_serves_artifacts(settings, nats_server):
    from services.gateway.app import run_gateway

    port = free_port()
    stop = asyncio.Event()
    async with running_stack(settings, SERVICES, url=nats_server) as stack:
        server = asyncio.create_task(run_gateway(settings, stack.host, "127.0.0.1", port, stop))
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                async with asyncio.timeout(10):
                    while True:
                        try:
                            if (await client.get("/health")).status_code == 200:
                                break
                        except httpx.TransportError:
                            await asyncio.sleep(0.05)
                created = await client.post(
                    "/v1/scenes", json={"prompt": "a living room with a sofa and a tv"}
                )
                assert created.status_code == 202, created.text
                body = created.json()
                status = await wait_for_status(client, body["status_url"], "SUCCEEDED")
                assert status["status"] == "SUCCEEDED", status
                assert status["progress"] == 100
                assert all(o["mesh"]["status"] == "SUCCEEDED" for o in status["objects"])
                glb = await client.get(status["artifacts"]["scene.glb"])
                assert glb.status_code == 200 and glb.content[:4] == b"glTF"
                layout = await client.get(status["artifacts"]["layout.json"])
                assert layout.json()["scene_id"] == body["scene_id"]
                image = await client.get(status["objects"][0]["image"]["url"])
                assert image.content.startswith(b"\x89PNG")

                # Another system publishes a bare request with plain nats-py.
                nc = await nats.connect(nats_server)
                prompt = "a kitchen with a red fridge"
                await nc.jetstream().publish(
                    "scene.requested", json.dumps({"prompt": prompt}).encode()
                )
                await nc.close()
                async with asyncio.timeout(TIMEOUT):
                    while True:
                        listing = (await client.get("/v1/scenes?page_size=50")).json()
                        mine = [s for s in listing["items"] if s["prompt"] == prompt]
                        if mine and mine[0]["status"] in ("SUCCEEDED", "FAILED"):
                            break
                        await asyncio.sleep(0.1)
                assert mine[0]["status"] == "SUCCEEDED"
        finally:
            stop.set()
            await server


def test_build_with_unreachable_nats_fails_with_one_clear_error(workspace: Path):
    port = free_port()  # nothing listens there
    result = run_cli(
        "build", "a kitchen", workspace=workspace, extra={"NATS_URL": f"nats://127.0.0.1:{port}"}
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [result.stderr.strip()], "one line"
    assert result.stderr.startswith("error: cannot reach NATS")
    assert not (workspace / "nats").exists(), "an explicit NATS_URL starts no embedded server"


def test_debug_performance_writes_a_report(workspace: Path):
    result = run_cli(
        "debug", "performance", "--scenes", "1", "--prompt", "a small office", "--report",
        workspace=workspace,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = Path(result.stdout.strip().splitlines()[-1].removeprefix("report: "))
    figures = json.loads(report.read_text())
    assert figures["scenes"] == 1 and figures["memory_bytes"] > 0
    assert {"planner (s)", "total (s)", "bus delay to planner (s)"} <= set(figures["series"])


def test_plan_and_layout_commands(tmp_path: Path, workspace: Path):
    planned = run_cli(
        "plan", "an L-shaped living room with a sofa", "--seed", "1", workspace=workspace
    )
    assert planned.returncode == 0, planned.stderr
    layout = json.loads(planned.stdout)
    assert len(layout["room"]["polygon"]) == 6
    assert any(o["category"] == "sofa" for o in layout["objects"])

    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"room": {"type": "office"}, "objects": [{"category": "desk"}]}))
    solved = run_cli("layout", str(spec), workspace=workspace)
    assert solved.returncode == 0, solved.stderr
    assert [o["category"] for o in json.loads(solved.stdout)["objects"]].count("desk") >= 1

    spec.write_text(json.dumps({"objects": [{"category": "sofa", "count": 0}]}))
    rejected = run_cli("layout", str(spec), workspace=workspace)
    assert rejected.returncode == 2 and "objects[0].count" in rejected.stderr


def test_replay_and_cancel_commands_on_a_built_scene(tmp_path: Path, workspace: Path):
    built = run_cli(
        "build", "a small office with a desk", "--out", str(tmp_path / "out"), "--json",
        workspace=workspace,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    scene_id = json.loads(built.stdout.strip().splitlines()[-1])["scene_id"]
    dry = run_cli(
        "replay", scene_id, "--from", "meshgen", "--dry-run", "--json", workspace=workspace
    )
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout.strip().splitlines()[-1])
    assert plan["dry_run"] and plan["scenes"] == 1
    [item] = plan["replayed"]
    assert item["from"] == "meshgen" and item["previous"] == "SUCCEEDED" and item["attempt"] == 2
    assert item["reused"]["planner"] == 1 and item["redone"]["meshgen"] >= 1
    cancelled = run_cli("cancel", scene_id, "--json", workspace=workspace)
    assert cancelled.returncode == 0, cancelled.stderr
    assert json.loads(cancelled.stdout)["status"] == "SUCCEEDED"  # it had already ended
    unknown = run_cli("cancel", "no-such-scene", workspace=workspace)
    assert unknown.returncode == 2
    assert (
        unknown.stderr.strip()
        == "error: scene 'no-such-scene' is not in the stream: nothing to cancel"
    )
    neither = run_cli("replay", workspace=workspace)
    assert neither.returncode == 2 and "give a SCENE_ID" in neither.stderr
