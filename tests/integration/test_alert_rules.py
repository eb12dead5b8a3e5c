"""The alert rules under promtool: `promtool check rules` on alerts.yml, and `promtool test
rules` on alerts_test.yml, where every alert fires on a synthetic failing series and stays
silent on a healthy one, and every dashboard query shows 0 on an idle system.

promtool comes with Debian's `prometheus` package (`make test` installs it when run as
root); without it these tests fail with the command that installs it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
TIMEOUT_S = 120


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is not installed: run `apt-get install -y prometheus`")
    return found


def run(*args: str) -> str:
    done = subprocess.run(
        [promtool(), *args], capture_output=True, text=True, timeout=TIMEOUT_S, cwd=RULES
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"promtool {' '.join(args)}:\n{output}"
    return output


def test_alert_rules_pass_promtool_check():
    assert "SUCCESS" in run("check", "rules", "alerts.yml")


def test_alert_rules_pass_their_promtool_unit_tests():
    assert "SUCCESS" in run("test", "rules", "alerts_test.yml")
