"""The planner on an OpenAI-compatible server: the model's scene spec feeds the solver;
when the model fails the rules take over, or the scene fails with the reason."""

from __future__ import annotations

from services.planner.understanding import understand
from shared.contract import LayoutReady, SceneFailed, SceneRequested, Subject, encode, subject
from tests.fakes.openai_server import FakeOpenAI, answer, quota_exceeded, refusal
from tests.integration.test_pipeline import collecting, hosting, publish


def llm_settings(settings, base_url: str, *, fallback: bool):
    llm = settings.llm.model_copy(
        update={
            "default_provider": "openai",
            "base_url": base_url,
            "api_key": "sk-test",
            "fallback_to_rules": fallback,
            "retry_attempts": 1,
        }
    )
    return settings.model_copy(update={"llm": llm})


async def run_planner(settings, nats_server, scene_id: str, prompt: str) -> list:
    async with (
        hosting(settings, nats_server, "planner"),
        collecting(
            nats_server, f"{Subject.LAYOUT_READY}.{scene_id}", f"{Subject.SCENE_FAILED}.{scene_id}"
        ) as (nc, got),
    ):
        request = SceneRequested(scene_id=scene_id, prompt=prompt)
        await publish(nc, subject(Subject.SCENE_REQUESTED, scene_id), encode(request))
        return await got.wait(lambda ev: len(ev) >= 1)


async def test_the_models_spec_is_solved(settings, nats_server, unique):
    # The model answers with a spec that differs from what the rules would read.
    spec = understand("a library with three bookshelves, a reading chair and a floor lamp")
    async with FakeOpenAI(api_key="sk-test") as fake:
        fake.script([answer(spec.model_dump_json())])
        events = await run_planner(
            llm_settings(settings, fake.base_url, fallback=False),
            nats_server,
            unique,
            "somewhere quiet to read",
        )
        body = fake.requests[0].body
    ready = events[0]
    assert isinstance(ready, LayoutReady) and ready.understood_by == "llm"
    categories = [o.category for o in ready.layout.objects]
    assert categories.count("bookshelf") == 3
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["strict"] is True
    assert body["messages"][-1]["content"] == "somewhere quiet to read"


async def test_a_refusing_model_falls_back_to_the_rules(settings, nats_server, unique):
    async with FakeOpenAI(api_key="sk-test") as fake:
        fake.script([refusal()])
        events = await run_planner(
            llm_settings(settings, fake.base_url, fallback=True),
            nats_server,
            unique,
            "a bedroom with two nightstands",
        )
    ready = events[0]
    assert isinstance(ready, LayoutReady) and ready.understood_by == "rules-fallback"
    assert [o.category for o in ready.layout.objects].count("nightstand") == 2


async def test_without_fallback_the_scene_fails_with_the_reason(settings, nats_server, unique):
    async with FakeOpenAI(api_key="sk-test") as fake:
        fake.script([quota_exceeded()])
        events = await run_planner(
            llm_settings(settings, fake.base_url, fallback=False),
            nats_server,
            unique,
            "a bedroom",
        )
        assert len(fake.requests) == 1  # quota: never retried
    failed = events[0]
    assert isinstance(failed, SceneFailed)
    assert failed.stage == "planner" and failed.code == "llm_quota" and not failed.retryable
