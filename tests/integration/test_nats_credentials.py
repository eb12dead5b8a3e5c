"""Every way in to a secured nats-server, through both connections a service makes: the
plain client (shared.bus.connect) and the FastStream broker (ServiceHost). A refused
connection is one clear error at once, not reconnects forever."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.runtime import ServiceHost
from shared.bus import NatsRefused, connect, free_port, nats_server_binary
from shared.config import load_settings
from shared.contract import SceneRequested, Subject, encode, subject

REFUSAL_WITHIN_S = 10.0


@contextlib.asynccontextmanager
async def secured_server(tmp_path: Path, conf: str) -> AsyncIterator[str]:
    port = free_port()
    path = tmp_path / "server.conf"
    path.write_text(f'jetstream {{ store_dir: "{tmp_path / "js"}" }}\n{conf}\n')
    log = open(tmp_path / "server.log", "ab")
    process = await asyncio.create_subprocess_exec(
        nats_server_binary(), "-c", str(path), "-a", "127.0.0.1", "-p", str(port),
        stdout=log, stderr=log,
    )  # fmt: skip
    log.close()
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            except OSError:
                if time.monotonic() > deadline or process.returncode is not None:
                    raise RuntimeError((tmp_path / "server.log").read_text()[-500:]) from None
                await asyncio.sleep(0.05)
        yield f"nats://127.0.0.1:{port}"
    finally:
        process.terminate()
        await process.wait()


def _settings(tmp_path: Path, **nats: object):
    return load_settings(
        storage={"workspace": tmp_path / "workspace"},
        nats=nats,
        logging={"level": "WARNING"},
    )


async def _works(url: str, settings) -> None:
    """The broker's connection takes a request and the client's sees the planner's layout."""
    host = ServiceHost(settings, url, ("planner",))
    await host.start()
    nc = await connect(url, "test", settings.nats)
    try:
        scene_id = uuid.uuid4().hex[:12]
        layouts = await nc.subscribe(subject(Subject.LAYOUT_READY, scene_id))
        request = SceneRequested(scene_id=scene_id, prompt="a desk", producer="test")
        await nc.jetstream().publish(subject(Subject.SCENE_REQUESTED, scene_id), encode(request))
        layout = await layouts.next_msg(timeout=15)
        assert json.loads(layout.data)["scene_id"] == scene_id
    finally:
        await nc.close()
        await host.stop(grace=1)


async def _refused(url: str, settings) -> str:
    started = time.monotonic()
    with pytest.raises(NatsRefused) as caught:
        await connect(url, "test", settings.nats)
    host = ServiceHost(settings, url, ("planner",))
    with pytest.raises(NatsRefused):
        await host.start()
    assert time.monotonic() - started < REFUSAL_WITHIN_S
    return caught.value.message


async def test_user_and_password(tmp_path: Path):
    conf = "authorization { user: holodeck, password: s3cret }"
    async with secured_server(tmp_path, conf) as url:
        await _works(url, _settings(tmp_path, user="holodeck", password="s3cret"))
        message = await _refused(url, _settings(tmp_path, user="holodeck", password="wrong"))
        assert "refused" in message and "nats.password" in message
        await _refused(url, _settings(tmp_path))  # no credentials at all


async def test_token(tmp_path: Path):
    async with secured_server(tmp_path, "authorization { token: t0ken }") as url:
        await _works(url, _settings(tmp_path, token="t0ken"))
        await _refused(url, _settings(tmp_path, token="other"))


async def test_nkey_seed_file(tmp_path: Path):
    import nacl.signing
    import nkeys

    seed = nkeys.encode_seed(bytes(nacl.signing.SigningKey.generate()), nkeys.PREFIX_BYTE_USER)
    public = nkeys.from_seed(bytearray(seed)).public_key.decode()
    seed_file = tmp_path / "user.nk"
    seed_file.write_bytes(seed)
    conf = f"authorization {{ users: [ {{ nkey: {public} }} ] }}"
    async with secured_server(tmp_path, conf) as url:
        await _works(url, _settings(tmp_path, nkey_seed_file=seed_file))
        other = nkeys.encode_seed(bytes(nacl.signing.SigningKey.generate()), nkeys.PREFIX_BYTE_USER)
        other_file = tmp_path / "other.nk"
        other_file.write_bytes(other)
        await _refused(url, _settings(tmp_path, nkey_seed_file=other_file))


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    ca: bool,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, issuer_key = issuer or (name, key)
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _write(
    path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> tuple[Path, Path]:
    cert_path, key_path = path.with_suffix(".crt"), path.with_suffix(".key")
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_tls_with_a_client_certificate(tmp_path: Path):
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _certificate("holodeck test CA", ca_key, None, ca=True)
    ca_file, _ = _write(tmp_path / "ca", ca_cert, ca_key)
    issuer = (ca_cert.subject, ca_key)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert, server_key_file = _write(
        tmp_path / "server", _certificate("nats", server_key, issuer, ca=False), server_key
    )
    client_key = ec.generate_private_key(ec.SECP256R1())
    client_cert, client_key_file = _write(
        tmp_path / "client", _certificate("holodeck", client_key, issuer, ca=False), client_key
    )
    conf = (
        f'tls {{ cert_file: "{server_cert}", key_file: "{server_key_file}", '
        f'ca_file: "{ca_file}", verify: true }}'
    )
    async with secured_server(tmp_path, conf) as url:
        await _works(
            url,
            _settings(
                tmp_path,
                tls_ca_file=ca_file,
                tls_cert_file=client_cert,
                tls_key_file=client_key_file,
            ),
        )
        # Without the client certificate the server's verify refuses the handshake.
        await _refused(url, _settings(tmp_path, tls_ca_file=ca_file))
