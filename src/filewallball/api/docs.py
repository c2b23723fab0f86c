"""``/docs``: Swagger UI, every file of it served from the package, so that the docs load
on a machine with no way out (no CDN).

The files are the npm package ``swagger-ui-dist``, Swagger UI's own distribution, at the
version ``static/swagger-ui/package-lock.json`` pins; ``scripts/update-swagger-ui`` copies
them. (The Python packages that bundle it ship it years late.)
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

ASSETS = Path(__file__).parent / "static" / "swagger-ui"
ASSETS_PATH = "/docs/assets"


def install_docs(app: FastAPI) -> None:
    async def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - API",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon-32x32.png",
            # Swagger UI would send the document to an online validator for a badge.
            swagger_ui_parameters={"validatorUrl": None},
        )

    app.add_route("/docs", docs, include_in_schema=False)
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS), name="docs-assets")
