"""The container's HEALTHCHECK: GET /health/ready on the port of the command the container runs.

The port is read from the command line of the container's main process (PID 1), the way
`holodeck` reads it: `up [--port N]` and `serve gateway [--port N]` are the gateway (8080
by default), `serve <worker> [--metrics-port N]` a worker's /health (9101-9104 by
default, after its first name). HOLODECK_HEALTH_PORT overrides it. A container running
any other command (`debug health`, `backup`, ...) has nothing to check and is healthy.

Standard library only: it runs in the image's interpreter without importing the project.
Exit 0 when /health answers 200, 1 otherwise (Docker's convention).
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

GATEWAY_PORT = 8080
WORKER_PORTS = {"planner": 9101, "imagegen": 9102, "meshgen": 9103, "assembly": 9104}
TIMEOUT_S = 4.0


def _option(args: list[str], name: str) -> str | None:
    for index, arg in enumerate(args):
        if arg == name and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def port_of(args: list[str]) -> int | None:
    """The /health port of a `holodeck ...` command line, or None if it serves none."""
    words = [a for a in args if not a.startswith("-")]
    # Skip the interpreter and program: the subcommand follows "holodeck" (or its path).
    for index, word in enumerate(words):
        if Path(word).name == "holodeck":
            words = words[index + 1 :]
            break
    if not words:
        return None
    command = words[0]
    if command == "up":
        return int(_option(args, "--port") or GATEWAY_PORT)
    if command != "serve":
        return None
    names = [w for w in words[1:] if w in WORKER_PORTS or w in ("gateway", "all")]
    if not names:
        return None
    if "gateway" in names or "all" in names:
        return int(_option(args, "--port") or GATEWAY_PORT)
    return int(_option(args, "--metrics-port") or WORKER_PORTS[names[0]])


def main_command() -> list[str]:
    raw = Path("/proc/1/cmdline").read_bytes()
    return [part.decode() for part in raw.split(b"\0") if part]


def main() -> int:
    explicit = os.environ.get("HOLODECK_HEALTH_PORT")
    try:
        port = int(explicit) if explicit else port_of(sys.argv[1:] or main_command())
    except (OSError, ValueError) as exc:
        print(f"unhealthy: cannot tell the service's port ({exc})")
        return 1
    if port is None:
        print("healthy: this command serves no /health")
        return 0
    url = f"http://127.0.0.1:{port}/health/ready"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as reply:
            print(f"healthy: {url} answered {reply.status}")
            return 0
    except urllib.error.HTTPError as exc:
        print(f"unhealthy: {url} answered {exc.code}")
    except (OSError, ValueError) as exc:
        print(f"unhealthy: {url}: {exc}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
