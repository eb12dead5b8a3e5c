"""The nats section's cluster and credential settings, and the connection options made of
them (the plain client's and the FastStream broker's must agree)."""

from __future__ import annotations

from pathlib import Path

import pytest
from faststream.nats.security import parse_security

from shared.bus import broker_security, connect_options, server_urls, stream_config
from shared.config import NatsSettings, load_settings
from shared.errors import ConfigError


def test_replicas_default_to_one_and_reach_the_stream():
    assert NatsSettings().replicas == 1
    assert stream_config(NatsSettings()).num_replicas == 1
    assert stream_config(NatsSettings(replicas=3)).num_replicas == 3


def test_replicas_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HOLODECK_NATS__REPLICAS", "3")
    monkeypatch.setenv("HOLODECK_NATS__USER", "holodeck")
    monkeypatch.setenv("HOLODECK_NATS__PASSWORD", "s3cret")
    nats = load_settings().nats
    assert (nats.replicas, nats.user, nats.password) == (3, "holodeck", "s3cret")


@pytest.mark.parametrize("replicas", [0, 6])
def test_replicas_out_of_range_name_the_field(replicas: int):
    with pytest.raises(ConfigError, match=r"nats\.replicas"):
        load_settings(nats={"replicas": replicas})


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"user": "u", "token": "t"}, "not user and token"),
        ({"token": "t", "creds_file": "/x.creds"}, "not token and creds_file"),
        ({"password": "p"}, "password needs user"),
        ({"tls_cert_file": "/c.pem"}, "go together"),
    ],
)
def test_contradictory_credentials_are_refused(fields: dict[str, str], problem: str):
    with pytest.raises(ConfigError, match=problem):
        load_settings(nats=fields)


def test_server_urls_split_a_cluster_list():
    assert server_urls("nats://a:4222, nats://b:4222,nats://c:4222") == [
        "nats://a:4222",
        "nats://b:4222",
        "nats://c:4222",
    ]
    with pytest.raises(ConfigError, match="names no server"):
        server_urls(" , ")


def test_anonymous_connections_carry_no_options():
    assert connect_options(None) == {}
    assert connect_options(NatsSettings()) == {}
    assert broker_security(NatsSettings()) is None


def _same(settings: NatsSettings) -> dict[str, object]:
    """The client's options and the broker's, with empty values left out, must agree."""
    client = connect_options(settings)
    broker = {k: v for k, v in parse_security(broker_security(settings)).items() if v}
    assert {k: v for k, v in client.items() if k != "tls"} == {
        k: v for k, v in broker.items() if k != "tls"
    }
    assert ("tls" in client) == ("tls" in broker)
    return client


def test_user_password_and_token_options():
    assert _same(NatsSettings(user="u", password="p")) == {"user": "u", "password": "p"}
    assert _same(NatsSettings(token="t")) == {"token": "t"}


def test_seed_and_creds_files_are_passed_as_paths(tmp_path: Path):
    seed = tmp_path / "user.nk"
    seed.write_text("SUAM...")
    creds = tmp_path / "user.creds"
    creds.write_text("-----BEGIN NATS USER JWT-----")
    assert _same(NatsSettings(nkey_seed_file=seed)) == {"nkeys_seed": str(seed)}
    assert _same(NatsSettings(creds_file=creds)) == {"user_credentials": str(creds)}


@pytest.mark.parametrize("field", ["nkey_seed_file", "creds_file", "tls_ca_file"])
def test_a_missing_file_names_its_field(tmp_path: Path, field: str):
    with pytest.raises(ConfigError, match=rf"nats\.{field}: .*missing.* is not a readable file"):
        connect_options(NatsSettings(**{field: tmp_path / "missing"}))


def test_a_file_that_is_not_a_certificate_is_a_clear_error(tmp_path: Path):
    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate")
    with pytest.raises(ConfigError, match="TLS files cannot be used"):
        connect_options(NatsSettings(tls_ca_file=ca))
