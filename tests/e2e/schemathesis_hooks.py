"""Schemathesis hooks for tests/e2e/test_schemathesis.py, loaded by ``st`` through
``SCHEMATHESIS_HOOKS``.

Generated requests repeat small values, so two different bodies often carry the same
Idempotency-Key, which the gateway rightly refuses (422 ``idempotency_key_reused``). A
usable key is made unique per request here, as a client makes one per logical request;
an unusable key is left as generated, so it is still refused.

Likewise a list request names its page either by number or by the cursor a previous
page gave, not both (422, as the `cursor` parameter says; a rule OpenAPI parameters
cannot state): a request that carries a cursor keeps it and drops the page number, as a
client following `next_cursor` does.
"""

from __future__ import annotations

import itertools
from typing import Any

import schemathesis

from services.gateway.requests import HEADER, MAX_KEY_LENGTH, key_problem

_requests = itertools.count()


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    headers = case.headers or {}
    for name, key in list(headers.items()):
        if name.lower() == HEADER.lower() and isinstance(key, str) and key_problem(key) is None:
            suffix = f"-{next(_requests)}"
            headers[name] = key[: MAX_KEY_LENGTH - len(suffix)] + suffix
    query = case.query
    if isinstance(query, dict) and query.get("cursor") is not None:
        query.pop("page", None)
