"""Scene requests with an Idempotency-Key on a real JetStream: the key-value bucket, the
duplicate window and the stream itself keep one request per key across gateways."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import nats
import pytest
from nats.js import JetStreamContext

from services.gateway.requests import (
    JetStreamRequests,
    KeyConflict,
    KeyRecord,
    KeyValueKeys,
    NotAccepted,
    SceneRequests,
    body_digest,
    key_token,
    scene_id_for_key,
)
from shared.bus import provision
from shared.config import NatsSettings
from shared.contract import IDEMPOTENCY_BUCKET, SceneRequested, Subject, subject

STREAM = NatsSettings().stream


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await provision(js, NatsSettings())
    try:
        yield js
    finally:
        await nc.drain()


def gateway(js: JetStreamContext) -> SceneRequests:
    """One gateway replica's intake: its own key store handle, the shared bucket."""
    return SceneRequests(JetStreamRequests(js, STREAM), KeyValueKeys(js, ttl_s=3600))


def request(key: str, prompt: str, seed: int = 0) -> SceneRequested:
    return SceneRequested(
        scene_id=scene_id_for_key(key), prompt=prompt, options={"seed": seed}, producer="gateway"
    )


async def requests_in_stream(js: JetStreamContext, scene_id: str) -> int:
    """How many messages the stream holds on the scene's request subject."""
    sub = await js.subscribe(
        subject(Subject.SCENE_REQUESTED, scene_id), stream=STREAM, ordered_consumer=True
    )
    try:
        count = 0
        while True:
            try:
                msg = await sub.next_msg(timeout=0.5)
            except nats.errors.TimeoutError:
                return count
            count += 1
            if msg.metadata.num_pending == 0:
                return count
    finally:
        await sub.unsubscribe()


async def test_replicas_racing_on_one_key_publish_once(js: JetStreamContext, unique: str) -> None:
    key = f"race-{unique}"
    replicas = [gateway(js) for _ in range(4)]
    results = await asyncio.gather(
        *(replica.submit(request(key, "a raced room"), key) for replica in replicas)
    )
    assert {r.scene_id for r in results} == {scene_id_for_key(key)}
    assert len({r.stream_seq for r in results}) == 1
    assert sorted(r.replayed for r in results) == [False, True, True, True]
    assert await requests_in_stream(js, scene_id_for_key(key)) == 1


async def test_a_key_survives_a_restart_and_its_expiry(js: JetStreamContext, unique: str) -> None:
    key = f"restart-{unique}"
    first = await gateway(js).submit(request(key, "a kept room", seed=2), key)
    assert not first.replayed

    # A new gateway process (a restart, another replica) knows the key.
    again = await gateway(js).submit(request(key, "a kept room", seed=2), key)
    assert (again.scene_id, again.stream_seq, again.replayed) == (
        first.scene_id,
        first.stream_seq,
        True,
    )
    with pytest.raises(KeyConflict, match="different request body"):
        await gateway(js).submit(request(key, "a kept room", seed=3), key)

    # Gone from the bucket (expired): the stream still holds the request of that scene.
    kv = await js.key_value(IDEMPOTENCY_BUCKET)
    await kv.purge(key_token(key))
    late = await gateway(js).submit(request(key, "a kept room", seed=2), key)
    assert (late.scene_id, late.stream_seq, late.replayed) == (
        first.scene_id,
        first.stream_seq,
        True,
    )
    await kv.purge(key_token(key))
    with pytest.raises(KeyConflict):
        await gateway(js).submit(request(key, "another room", seed=2), key)
    assert await requests_in_stream(js, first.scene_id) == 1


async def test_a_key_claimed_before_a_crash_is_published_on_retry(
    js: JetStreamContext, unique: str
) -> None:
    key = f"crash-{unique}"
    # The first gateway wrote the key's record and died before publishing.
    keys = KeyValueKeys(js, ttl_s=3600)
    wanted = request(key, "a crashed room")
    assert wanted.scene_id is not None
    record = KeyRecord(scene_id=wanted.scene_id, body_sha256=body_digest(wanted))
    assert (await keys.claim(key_token(key), record))[1]
    assert await requests_in_stream(js, wanted.scene_id) == 0

    retried = await gateway(js).submit(request(key, "a crashed room"), key)
    assert retried.scene_id == wanted.scene_id
    assert retried.replayed
    assert await requests_in_stream(js, wanted.scene_id) == 1
    settled = await (await js.key_value(IDEMPOTENCY_BUCKET)).get(key_token(key))
    assert settled.value is not None and str(retried.stream_seq).encode() in settled.value


async def test_a_publish_nobody_takes_is_not_accepted(js: JetStreamContext, unique: str) -> None:
    # A stream name that does not exist: JetStream answers that nothing was stored.
    intake = SceneRequests(
        JetStreamRequests(js, f"NOSUCH_{unique}", timeout=1, attempts=1),
        KeyValueKeys(js, ttl_s=3600),
    )
    with pytest.raises(NotAccepted) as raised:
        await intake.submit(request(f"nobody-{unique}", "a room"), None)
    assert raised.value.maybe_taken is False
