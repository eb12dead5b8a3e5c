"""Helpers shared by tests: running the CLI as a user does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HOLODECK = str(Path(sys.executable).parent / "holodeck")


def run_cli(
    *args: str, workspace: Path, extra: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``holodeck ARGS`` in a private workspace, with none of the caller's configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOLODECK_", "HOLDECK_"))}
    env.pop("NATS_URL", None)
    env["HOLODECK_WORKSPACE"] = str(workspace)
    env.update(extra or {})
    return subprocess.run(
        [HOLODECK, *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )
