"""The nats-server configuration shipped for compose is one the real server accepts."""

from __future__ import annotations

import subprocess
from pathlib import Path

from shared.bus import nats_server_binary

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_nats_config_is_valid(tmp_path: Path) -> None:
    config = (ROOT / "deploy" / "nats" / "nats.conf").read_text()
    local = tmp_path / "nats.conf"
    local.write_text(config.replace("/data", str(tmp_path / "data")))
    checked = subprocess.run(
        [nats_server_binary(), "-c", str(local), "-t"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert checked.returncode == 0, checked.stderr + checked.stdout
    assert "is valid" in checked.stderr + checked.stdout
