"""A claim's lease is released promptly whatever its refresh is doing."""

from __future__ import annotations

import asyncio
from typing import Any

from shared.claims import KeyLease


class SwallowingKv:
    """A key-value store whose update drops a cancellation that arrives while it waits,
    as a client request can on Python 3.11 when the reply lands with the cancel."""

    def __init__(self) -> None:
        self.updates = 0
        self.updating = asyncio.Event()
        self.deleted: list[tuple[str, int]] = []

    async def update(self, key: str, value: bytes, last: int) -> int:
        self.updates += 1
        self.updating.set()
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            pass  # the reply came: the cancellation is lost
        return last + 1

    async def delete(self, key: str, last: int) -> None:
        self.deleted.append((key, last))


async def test_release_ends_a_refresh_that_swallowed_its_cancellation() -> None:
    kv: Any = SwallowingKv()
    lease = KeyLease(kv, "k", 1, b"me", every=0.01)
    await asyncio.wait_for(kv.updating.wait(), 5)
    await asyncio.wait_for(lease.release(), 5)
    assert kv.deleted and kv.deleted[0][0] == "k"
    updates = kv.updates
    await asyncio.sleep(0.1)
    assert kv.updates == updates, "the lease kept refreshing after its release"


async def test_a_lease_refreshes_until_released() -> None:
    kv: Any = SwallowingKv()
    lease = KeyLease(kv, "k", 1, b"me", every=0.01)
    while kv.updates < 3:
        await asyncio.sleep(0.01)
    await lease.release()
    assert kv.deleted == [("k", lease.revision)]
    assert lease.revision >= 3
