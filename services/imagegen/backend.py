"""Image backends: what imagegen calls to turn one object into one reference image."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

from nats.js import JetStreamContext

from shared.config import ImageSettings
from shared.layout import PlacedObject
from shared.slots import SlotBoard

Progress = Callable[[float], Awaitable[None]]
"""Reports a fraction 0–1 of one image's work while the backend runs."""


def object_image(obj: PlacedObject, seed: int, size: int) -> bytes:
    """The procedural image of one object; the drawing code (numpy, Pillow) loads with
    the first image drawn, not with imagegen."""
    from services.imagegen.procedural import object_image as draw

    return draw(obj, seed, size)


class ImageBackend(Protocol):
    """Makes a PNG of one object. ``identity`` names the backend and its model/workflow,
    so the asset cache never serves one backend's output for another's request."""

    identity: str

    async def generate(
        self, obj: PlacedObject, seed: int, size: int, progress: Progress | None = None
    ) -> bytes: ...

    async def close(self) -> None: ...


class ProceduralImages:
    """Offline default: material and colour images drawn with numpy."""

    identity = "procedural/v2"

    async def generate(
        self, obj: PlacedObject, seed: int, size: int, progress: Progress | None = None
    ) -> bytes:
        png = await asyncio.to_thread(object_image, obj, seed, size)
        if progress is not None:
            await progress(1.0)
        return png

    async def close(self) -> None:
        return None


def image_backend(
    settings: ImageSettings, js: JetStreamContext | None = None, replicas: int = 1
) -> ImageBackend:
    """The configured image backend, created once at start-up. With ``js`` (and the
    ``cluster`` scope) the ComfyUI servers' prompt limit holds across replicas; its
    bucket keeps ``replicas`` copies on a JetStream cluster."""
    if settings.default_backend == "comfyui":
        # Imported here: the ComfyUI module imports this one for ``Progress``.
        from services.imagegen.comfyui import ComfyUIImages

        cluster = js is not None and settings.concurrency_scope == "cluster"
        board = SlotBoard(js, replicas=replicas) if js is not None and cluster else None
        return ComfyUIImages.from_settings(settings, board)
    return ProceduralImages()
