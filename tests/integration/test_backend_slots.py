"""Request slots of a backend server claimed across replicas in the JetStream key-value
store: two boards on two connections stand for two replicas, and a pool of servers
claims through one of them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import nats
import pytest

from shared.pool import Lease, Pool
from shared.slots import SlotBoard, _server_key

SERVER = "http://gpu-1.internal:8081"


@pytest.fixture
async def replicas(nats_server: str) -> AsyncIterator[tuple[object, object]]:
    one = await nats.connect(nats_server)
    two = await nats.connect(nats_server)
    try:
        yield one, two
    finally:
        await one.close()
        await two.close()


async def test_replicas_together_stay_within_the_servers_limit(replicas, unique) -> None:
    one, two = replicas
    bucket = f"slots-{unique}"
    boards = [SlotBoard(nc.jetstream(), bucket=bucket, lease_s=5) for nc in (one, two)]
    holding = 0
    most = 0
    queued = []

    async def request(board: SlotBoard) -> None:
        nonlocal holding, most
        async with board.held(SERVER, 2) as slot:
            queued.append(slot.queued)
            holding += 1
            most = max(most, holding)
            await asyncio.sleep(0.1)  # the request's work
            holding -= 1

    async with asyncio.timeout(20):
        await asyncio.gather(*(request(boards[i % 2]) for i in range(6)))

    assert most == 2
    assert any(queued)
    kv = await one.jetstream().key_value(bucket)
    for n in range(2):  # every slot was given back
        with pytest.raises(nats.js.errors.KeyNotFoundError):
            await kv.get(f"{_server_key(SERVER)}.{n}")


async def test_a_held_slot_outlives_its_lease_while_its_holder_runs(replicas, unique) -> None:
    one, two = replicas
    bucket = f"slots-{unique}"
    first = SlotBoard(one.jetstream(), bucket=bucket, lease_s=1.0)
    second = SlotBoard(two.jetstream(), bucket=bucket, lease_s=1.0)
    released_at = 0.0
    taken = asyncio.Event()

    async def long_request() -> None:
        nonlocal released_at
        async with first.held(SERVER, 1):
            taken.set()
            await asyncio.sleep(2.5)  # longer than two leases: kept alive by refreshes
            released_at = time.monotonic()

    async with asyncio.timeout(20):
        holder = asyncio.create_task(long_request())
        await taken.wait()
        async with second.held(SERVER, 1) as slot:
            got_at = time.monotonic()
        await holder

    assert got_at >= released_at > 0
    assert slot.queued


async def test_the_slot_of_a_replica_that_died_frees_itself(replicas, unique) -> None:
    one, two = replicas
    bucket = f"slots-{unique}"
    survivor = SlotBoard(two.jetstream(), bucket=bucket, lease_s=1.0)
    # A replica claimed the only slot and died: nobody refreshes or deletes its key.
    dead = SlotBoard(one.jetstream(), bucket=bucket, lease_s=1.0)
    kv = await dead._bucket()
    await kv.create(f"{_server_key(SERVER)}.0", b"a replica that died")

    async with asyncio.timeout(20), survivor.held(SERVER, 1) as slot:
        pass

    assert slot.queued
    assert slot.waited >= 0.5


async def test_a_pool_passes_over_servers_whose_slots_other_replicas_hold(replicas, unique):
    one, two = replicas
    bucket = f"slots-{unique}"
    urls = [f"http://gpu-{k}-{unique}.internal:8081" for k in range(2)]
    pool = Pool(
        "test", urls, concurrency=1, board=SlotBoard(one.jetstream(), bucket=bucket, lease_s=5)
    )
    elsewhere = SlotBoard(two.jetstream(), bucket=bucket, lease_s=5)

    async def lease_of(lease: Lease) -> Lease:
        return lease

    async with asyncio.timeout(20):
        async with elsewhere.held(urls[0], 1):
            taken = [await pool.run(lease_of) for _ in range(3)]
        assert [lease.url for lease in taken] == [urls[1]] * 3
        assert not any(lease.queued for lease in taken)

        # Both servers busy in the other replica: the request waits for the first freed.
        held = asyncio.Event()

        async def other_replica() -> None:
            async with elsewhere.held(urls[0], 1), elsewhere.held(urls[1], 1):
                held.set()
                await asyncio.sleep(0.5)

        other = asyncio.create_task(other_replica())
        await held.wait()
        lease = await pool.run(lease_of)
        await other

    assert lease.queued and lease.waited >= 0.3
    kv = await one.jetstream().key_value(bucket)
    for url in urls:  # every slot was given back
        with pytest.raises(nats.js.errors.KeyNotFoundError):
            await kv.get(f"{_server_key(url)}.0")
