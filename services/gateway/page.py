"""The gateway's own web page at ``/`` and the API's Swagger UI at ``/docs``.

Everything a browser loads comes from this package (``web/``): the page's script and
style, three.js for the 3D viewer and swagger-ui-dist for ``/docs``, copied from their npm
packages by ``web/vendor.sh``. No page needs the internet, and none runs an inline
script, so a strict Content-Security-Policy (``script-src 'self'``) serves them as is.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

WEB = Path(__file__).parent / "web"
VENDOR = WEB / "vendor"
REQUIRED = (
    VENDOR / "three" / "three.module.min.js",
    VENDOR / "three" / "addons" / "loaders" / "GLTFLoader.js",
    VENDOR / "three" / "addons" / "controls" / "OrbitControls.js",
    VENDOR / "swagger-ui" / "swagger-ui-bundle.js",
)


def add_page(app: FastAPI) -> None:
    """Serve the page at ``/`` and the Swagger UI at ``/docs`` (the app's own are off)."""
    missing = [str(p.relative_to(WEB)) for p in REQUIRED if not p.is_file()]
    if missing:
        raise RuntimeError(
            f"the gateway's web assets are missing ({', '.join(missing)}): "
            f"run {WEB / 'vendor.sh'} to copy them from npm"
        )
    app.mount("/ui/vendor", StaticFiles(directory=VENDOR), name="vendor")
    app.mount("/ui", StaticFiles(directory=WEB / "ui"), name="ui")

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(WEB / "index.html", media_type="text/html")

    @app.api_route("/docs", methods=["GET", "HEAD"], include_in_schema=False)
    async def docs() -> FileResponse:
        return FileResponse(WEB / "docs.html", media_type="text/html")
