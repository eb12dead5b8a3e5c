"""A real JetStream cluster of ``nats-server`` processes on loopback, for tests.

Each node has its own client, monitoring and cluster-route ports (all free ports) and
its own store directory; a node can be killed (SIGKILL) and started again on the same
store and ports, as a crashed host coming back.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from shared.bus import free_port, nats_server_binary


@dataclass
class ClusterNode:
    name: str
    store_dir: Path
    port: int
    monitor_port: int
    cluster_port: int
    process: asyncio.subprocess.Process | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def monitor(self) -> str:
        return f"http://127.0.0.1:{self.monitor_port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None


@dataclass
class NatsCluster:
    root: Path
    size: int = 3
    name: str = "holodeck-test"
    nodes: list[ClusterNode] = field(default_factory=list)

    def __post_init__(self) -> None:
        for index in range(self.size):
            node_dir = self.root / f"n{index}"
            node_dir.mkdir(parents=True, exist_ok=True)
            self.nodes.append(
                ClusterNode(f"n{index}", node_dir, free_port(), free_port(), free_port())
            )

    @property
    def url(self) -> str:
        """Every node, comma-separated, as nats.url takes them."""
        return ",".join(node.url for node in self.nodes)

    def _config(self, node: ClusterNode) -> Path:
        routes = ", ".join(
            f'"nats-route://127.0.0.1:{other.cluster_port}"'
            for other in self.nodes
            if other is not node
        )
        path = node.store_dir / "server.conf"
        path.write_text(
            f'server_name: "{node.name}"\n'
            f"listen: 127.0.0.1:{node.port}\n"
            f"http: 127.0.0.1:{node.monitor_port}\n"
            f'jetstream {{ store_dir: "{node.store_dir / "js"}" }}\n'
            "cluster {\n"
            f'  name: "{self.name}"\n'
            f"  listen: 127.0.0.1:{node.cluster_port}\n"
            f"  routes: [{routes}]\n"
            "}\n"
        )
        return path

    async def start_node(self, node: ClusterNode) -> None:
        log = open(node.store_dir / "server.log", "ab")
        try:
            node.process = await asyncio.create_subprocess_exec(
                nats_server_binary(),
                "-c",
                str(self._config(node)),
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        finally:
            log.close()

    async def start(self, timeout: float = 30.0) -> NatsCluster:
        for node in self.nodes:
            await self.start_node(node)
        await self.wait_ready(timeout)
        return self

    async def wait_ready(self, timeout: float = 30.0) -> None:
        """Until every running node answers /healthz and the cluster has a meta leader."""
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=1.0) as client:
            for node in self.nodes:
                if not node.running:
                    continue
                while True:
                    with contextlib.suppress(httpx.HTTPError):
                        health = await client.get(f"{node.monitor}/healthz")
                        jsz = await client.get(f"{node.monitor}/jsz")
                        if health.status_code == 200 and jsz.json().get("meta_cluster", {}).get(
                            "leader"
                        ):
                            break
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"cluster node {node.name} not ready in {timeout} s")
                    await asyncio.sleep(0.1)

    def kill(self, node: ClusterNode) -> None:
        """SIGKILL: the node's process ends at once, as in a crash."""
        assert node.process is not None
        node.process.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        for node in self.nodes:
            process, node.process = node.process, None
            if process is None or process.returncode is not None:
                continue
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()

    async def stream_state(self, node: ClusterNode, stream: str) -> dict[str, Any] | None:
        """The stream's state as ``node`` itself holds it (its monitoring endpoint), or
        None while the node does not hold the stream."""
        async with httpx.AsyncClient(timeout=2.0) as client:
            reply = await client.get(f"{node.monitor}/jsz", params={"streams": "true"})
        for account in reply.json().get("account_details") or []:
            for detail in account.get("stream_detail") or []:
                if detail.get("name") == stream:
                    state: dict[str, Any] = detail["state"]
                    return state
        return None


@contextlib.asynccontextmanager
async def nats_cluster(root: Path, size: int = 3) -> AsyncIterator[NatsCluster]:
    cluster = NatsCluster(root, size)
    try:
        await cluster.start()
        yield cluster
    finally:
        await cluster.stop()
