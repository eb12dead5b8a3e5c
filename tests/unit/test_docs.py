"""The committed event documentation matches the code (regenerate with `make schema`)."""

from __future__ import annotations

from pathlib import Path

from services.cli import write_schemas

DOCS = Path(__file__).resolve().parents[2] / "docs" / "schemas"


def test_committed_schemas_match_the_contract(tmp_path: Path):
    written = write_schemas(tmp_path)
    assert {p.name for p in written} == {p.name for p in DOCS.glob("*.json")}
    for path in written:
        assert path.read_text() == (DOCS / path.name).read_text(), (
            f"docs/schemas/{path.name} is stale: run `make schema`"
        )


def test_asyncapi_names_every_subject(tmp_path: Path):
    import json

    from shared.contract import Consumer

    write_schemas(tmp_path)
    document = json.loads((tmp_path / "asyncapi.json").read_text())
    addresses = {c["address"] for c in document["channels"].values()}
    assert set(Consumer.FILTERS.values()) <= addresses
    assert "scene.failed.{scene_id}" in addresses
