"""``holodeck keys create`` and ``holodeck config show``: the gateway's API keys and the
effective configuration.

A new key is printed once with the line to add to ``security.api_keys``; only its SHA-256
goes in the config, the key itself is kept nowhere. ``config show`` prints every setting
with secrets masked and where its value came from. :func:`register` adds the commands to
the CLI, given how it runs a coroutine and loads settings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from shared.errors import BadInput

if TYPE_CHECKING:
    from shared.config import Permission, Settings

T = TypeVar("T")
Runner = Callable[[Coroutine[Any, Any, T]], T]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
PERMISSIONS: tuple[Permission, ...] = ("read", "write")


def parse_permissions(text: str) -> list[Permission]:
    """``read,write`` → ``["read", "write"]``; anything else is a :class:`BadInput`."""
    wanted = [p.strip().lower() for p in text.split(",") if p.strip()]
    unknown = [p for p in wanted if p not in PERMISSIONS]
    if unknown or not wanted:
        shown = ", ".join(unknown) if unknown else "nothing"
        raise BadInput(f"--permissions: {shown} is not a permission; choose from read, write")
    return [p for p in PERMISSIONS if p in wanted]


def key_entry(
    name: str,
    key: str,
    permissions: list[Permission],
    rate_limit: str | None = None,
) -> str:
    """The ``security.api_keys`` line of a key, holding only its digest (YAML flow style)."""
    from services.gateway.security import key_digest

    fields = [f"name: {name}", f'key_sha256: "{key_digest(key)}"']
    if rate_limit:
        fields.append(f'rate_limit: "{rate_limit}"')
    fields.append(f"permissions: [{', '.join(permissions)}]")
    return "- { " + ", ".join(fields) + " }"


def env_name(name: str) -> str:
    """The variable a key named ``name`` would be kept in: ``ci-bot`` → ``CI_BOT_API_KEY``."""
    return re.sub(r"[^A-Z0-9]", "_", name.upper()) + "_API_KEY"


def register(app: typer.Typer, run: Runner[Any], load: Callable[..., Settings]) -> None:
    """Add ``keys create`` and ``config show`` to ``app``."""
    keys_app = typer.Typer(help="The gateway's API keys.", no_args_is_help=True)
    config_app = typer.Typer(help="The effective configuration.", no_args_is_help=True)
    app.add_typer(keys_app, name="keys")
    app.add_typer(config_app, name="config")

    @keys_app.command("create")
    def create_key(
        name: Annotated[str, typer.Argument(help="What the key is for (shown in logs).")],
        permissions: Annotated[
            str, typer.Option(help="Comma-separated: read, write (POST, cancel, retry).")
        ] = "read",
        rate_limit: Annotated[
            str | None, typer.Option(help="Its own rate, such as 1000/hour.")
        ] = None,
    ) -> None:
        """Make a random API key; print it once and the config line to add."""
        from services.gateway.security import new_key
        from shared.config import rate_limit_problem

        if not _NAME.match(name):
            raise BadInput(
                f"key name {name!r}: use letters, digits, '_', '-' or '.', at most 64 characters"
            )
        granted = parse_permissions(permissions)
        if rate_limit is not None and (problem := rate_limit_problem(rate_limit)):
            raise BadInput(f"--rate-limit: {problem}")
        key = new_key()
        variable = env_name(name)
        print(f"API key {name!r} ({', '.join(granted)}), shown only this once:\n")
        print(f"  {key}\n")
        print("Add to security.api_keys in the config file (only the key's SHA-256 is kept):\n")
        print(f"  {key_entry(name, key, granted, rate_limit)}\n")
        print(f"or keep the key in the environment or .env as {variable}={key} and add:\n")
        line = f'- {{ name: {name}, key: "${{{variable}}}"'
        if rate_limit:
            line += f', rate_limit: "{rate_limit}"'
        print(f"  {line}, permissions: [{', '.join(granted)}] }}")

    @config_app.command("show")
    def show(
        as_json: Annotated[bool, typer.Option("--json", help="One JSON document.")] = False,
    ) -> None:
        """Every setting's effective value (secrets masked) and where it came from:
        default, YAML file, environment or .env."""
        from shared.config import explain_settings

        load(quiet=True)  # a configuration that does not load ends here, in one line
        rows = explain_settings()
        if as_json:
            body = [{"setting": p, "value": v, "source": s} for p, v, s in rows]
            print(json.dumps(body, indent=2, default=str))
            return
        shown = [(p, _text(v), s) for p, v, s in rows]
        width = max(len(p) for p, _, _ in shown)
        value_width = min(48, max(len(v) for _, v, _ in shown))
        for path, value, source in shown:
            print(f"{path:<{width}}  {value:<{value_width}}  {source}")


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)
