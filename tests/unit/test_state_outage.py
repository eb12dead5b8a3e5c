"""Reading or recording a scene's state rides out a short bus outage (a key-value
stream electing a new leader after a node died) instead of failing the message."""

from __future__ import annotations

import pytest
from nats.js.errors import NoStreamResponseError

from shared import stage
from shared.states import StateUnavailable


async def test_a_state_call_is_tried_again_until_the_bucket_answers() -> None:
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 4:
            raise NoStreamResponseError()
        return "RUNNING"

    assert await stage._riding_out(flaky) == "RUNNING"
    assert calls == 4


async def test_an_outage_longer_than_the_grace_is_reported(monkeypatch) -> None:
    monkeypatch.setattr(stage, "STATE_OUTAGE_S", 0.3)

    async def down() -> str:
        raise StateUnavailable("the bucket has no leader")

    with pytest.raises(StateUnavailable):
        await stage._riding_out(down)


async def test_other_errors_are_not_retried() -> None:
    calls = 0

    async def broken() -> str:
        nonlocal calls
        calls += 1
        raise ValueError("not an outage")

    with pytest.raises(ValueError):
        await stage._riding_out(broken)
    assert calls == 1
