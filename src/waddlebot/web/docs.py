"""``/docs``: Swagger UI over the app's OpenAPI document, from files shipped in the package
(``static/swagger-ui``, renewed with ``make swagger-ui``), so the page works with no internet.
FastAPI's own page loads them from a CDN, and its ReDoc page is left out for the same reason.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = Path(__file__).resolve().parent / "static" / "swagger-ui"
ASSETS_PATH = "/docs/swagger-ui"


def add_docs(app: FastAPI) -> None:
    """Serve ``/docs`` on ``app`` (made with ``docs_url=None, redoc_url=None``)."""
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png",
            # no badge from the online validator: it would send the document elsewhere
            swagger_ui_parameters={"validatorUrl": None},
        )
