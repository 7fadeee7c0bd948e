"""Serves the portal: its static files at `/portal/`, and plotly's bundled JavaScript,
read from the installed `plotly` package, at `/portal/vendor/plotly.min.js`."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
PLOTLY_JS = "plotly.min.js"


@cache
def plotly_bundle() -> Path | None:
    """plotly.min.js inside the installed plotly package (None if the package lacks it)."""
    try:
        path = Path(str(resources.files("plotly") / "package_data" / PLOTLY_JS))
    except ModuleNotFoundError:
        return None
    return path if path.is_file() else None


def install(app: FastAPI) -> None:
    """Adds the portal's routes and static mount to `app` (after the API's routers, so
    the mount never shadows them)."""

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        # A newcomer opening the service's address lands on the portal, not a 404.
        return RedirectResponse("/portal/", status_code=307)

    @app.get("/portal", include_in_schema=False)
    def portal_root() -> RedirectResponse:
        return RedirectResponse("/portal/", status_code=307)

    @app.get(f"/portal/vendor/{PLOTLY_JS}", include_in_schema=False)
    def plotly_js() -> FileResponse:
        bundle = plotly_bundle()
        if bundle is None:
            raise HTTPException(404, "the plotly package is not installed")
        return FileResponse(bundle, media_type="text/javascript",
                            headers={"Cache-Control": "public, max-age=86400"})

    app.mount("/portal", StaticFiles(directory=STATIC, html=True), name="portal")
