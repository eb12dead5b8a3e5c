"""A conditional key-value write refused because the key changed is told apart from any
other JetStream error, however nats-py reports it."""

from __future__ import annotations

from nats.js.errors import APIError, KeyWrongLastSequenceError

from shared.cache import wrong_last_sequence


def test_the_key_changed_whichever_way_it_is_reported() -> None:
    assert wrong_last_sequence(KeyWrongLastSequenceError(description="wrong last sequence: 7"))
    assert wrong_last_sequence(APIError(code=400, err_code=10071, description="wrong last"))
    assert wrong_last_sequence(APIError(code=400, err_code=10164, description="exists"))


def test_other_errors_are_not_taken_for_a_changed_key() -> None:
    assert not wrong_last_sequence(APIError(code=503, err_code=10008, description="no leader"))
    assert not wrong_last_sequence(APIError(code=500, description="unknown"))
