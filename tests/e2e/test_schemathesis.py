"""The gateway answers as its OpenAPI document says: schemathesis sends generated requests,
valid and invalid, to every documented route of a gateway running every stage on a real
nats-server and SQLite, and checks each answer against the document."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from tests.helpers import running_gateway

ST = Path(sys.executable).parent / "st"
REPO = Path(__file__).resolve().parents[2]
# Every check on answers: no 5xx but the documented 503s, status codes, content types,
# headers and bodies as documented, 405 with a true Allow for undeclared methods, invalid
# requests refused and valid ones accepted (the document states the callback URL and
# Last-Event-ID rules as patterns, so what it calls valid is what the gateway takes).
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "use_after_free",
    "ensure_resource_availability",
)
MAX_EXAMPLES = 5
# schemathesis keeps fuzzing until this is spent, so it is the run's length.
MAX_TIME_S = 25


def _summary(report: dict[str, Any]) -> str:
    return json.dumps(
        {k: report.get(k) for k in ("operations", "test_cases", "failures", "errors")}, indent=1
    )


async def test_every_answer_is_the_one_the_openapi_document_promises(
    settings: Any, nats_server: str, tmp_path: Path
) -> None:
    assert ST.exists(), f"schemathesis is missing: {sys.executable} -m pip install -e '.[dev]'"
    report_path = tmp_path / "schemathesis.json"
    async with running_gateway(settings, nats_server) as (client, _host):
        process = await asyncio.create_subprocess_exec(
            str(ST),
            "run",
            f"{client.base_url}/openapi.json",
            "--checks",
            ",".join(CHECKS),
            "--max-examples",
            str(MAX_EXAMPLES),
            "--max-time",
            str(MAX_TIME_S),
            "--seed",
            "1",
            "--no-shrink",
            "--workers",
            "1",
            "--request-timeout",
            "10",
            "--report",
            "json",
            "--report-json-path",
            str(report_path),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            # Each usable Idempotency-Key made unique (see schemathesis_hooks.py).
            env={
                **os.environ,
                "SCHEMATHESIS_HOOKS": "tests.e2e.schemathesis_hooks",
                "PYTHONPATH": str(REPO),
            },
        )
        try:
            output, _ = await asyncio.wait_for(process.communicate(), MAX_TIME_S + 45)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
    text = output.decode(errors="replace")
    assert report_path.exists(), text[-4000:]
    report = json.loads(report_path.read_text())
    assert report["failures"] == [] and report["errors"] == [], text[-8000:]
    assert process.returncode == 0, text[-8000:]
    operations = report["operations"]
    # On an idle machine every operation is reached within the time; on a busy one the
    # last phases may not reach one or two, so only most of them are required.
    assert operations["tested"] >= operations["selected"] - 2, _summary(report)
    assert operations["tested"] >= 10, _summary(report)
    assert report["test_cases"]["generated"] >= 100, _summary(report)
