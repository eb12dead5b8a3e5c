"""``holodeck keys create`` and ``holodeck config show`` as a user runs them."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.helpers import run_cli


def test_keys_create_prints_the_key_once_and_a_config_line_that_works(tmp_path: Path):
    made = run_cli("keys", "create", "ci-bot", "--permissions", "read,write", workspace=tmp_path)
    assert made.returncode == 0, made.stderr
    [key] = re.findall(r"hdk_[A-Za-z0-9_-]{43}", made.stdout.split("\n\n")[1])
    [line] = [ln.strip() for ln in made.stdout.splitlines() if "key_sha256" in ln]
    assert key not in line
    (tmp_path / "config.yaml").write_text("security:\n  api_keys:\n    " + line + "\n")
    shown = run_cli("config", "show", "--json", workspace=tmp_path)
    assert shown.returncode == 0, shown.stderr
    rows = {row["setting"]: row for row in json.loads(shown.stdout)}
    assert rows["security.api_keys[0].name"]["value"] == "ci-bot"
    assert rows["security.api_keys[0].permissions"]["value"] == ["read", "write"]
    assert rows["security.api_keys[0].name"]["source"].startswith("YAML file ")
    assert rows["gateway.host"] == {
        "setting": "gateway.host",
        "value": "127.0.0.1",
        "source": "default",
    }


def test_config_show_masks_secrets_and_fails_in_one_line(tmp_path: Path):
    secret = "sk-" + "s" * 30
    shown = run_cli("config", "show", workspace=tmp_path, extra={"OPENAI_API_KEY": secret})
    assert shown.returncode == 0, shown.stderr
    [row] = [ln for ln in shown.stdout.splitlines() if ln.startswith("llm.api_key ")]
    assert row.split()[1:] == ["****", "environment", "(OPENAI_API_KEY)"]
    assert secret not in shown.stdout
    (tmp_path / "config.yaml").write_text(
        'security:\n  api_keys:\n    - { name: a, key: "${A_KEY}" }\n'
    )
    broken = run_cli("config", "show", workspace=tmp_path)
    assert broken.returncode == 2
    assert broken.stderr.count("\n") == 1
    assert "A_KEY is not set" in broken.stderr
