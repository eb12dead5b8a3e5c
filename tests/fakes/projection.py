"""A projection whose database refuses some events, for tests of dead-lettering."""

from __future__ import annotations

from typing import Any

from services.gateway.projection import Projection
from shared.contract import LayoutReady


class Poisoned(Projection):
    """A projection whose database refuses the layout of scenes whose prompt is "poison",
    as PostgreSQL refuses an integer out of range or SQLite one beyond 64 bits."""

    async def _layout_ready(self, session: Any, scene: Any, event: LayoutReady) -> None:
        if event.prompt == "poison":
            raise OverflowError("Python int too large to convert to SQLite INTEGER")
        await super()._layout_ready(session, scene, event)
