"""Swagger UI and ReDoc with their JS and CSS served by this server, so docs work offline."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

STATIC_URL = "/docs-static"
# fastapi-offline ships the swagger-ui and redoc bundles; only its files are used.
ASSETS_DIR = Path(str(files("fastapi_offline") / "static"))

SWAGGER_UI_PARAMETERS = {
    "persistAuthorization": True,
    "displayOperationId": True,
    # No online validator badge: it would call a third-party server.
    "validatorUrl": None,
}
# Images from this server only, so that opening the docs calls no third-party server.
REDOC_CONTENT_SECURITY_POLICY = "img-src 'self' data:"
REDOC_JS_URL = "/docs-redoc/redoc.standalone.js"
REDOC_CDN_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
"""The only remote asset of ReDoc's bundle: the logo of its sidebar's footer."""
EMPTY_IMAGE = b"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E"


@cache
def redoc_bundle() -> bytes:
    """ReDoc's bundle with its footer logo drawn from nothing instead of fetched from a CDN
    (the CSP above would block the request, but the browser would still try and report it)."""
    bundle = (ASSETS_DIR / "redoc.standalone.js").read_bytes()
    return bundle.replace(REDOC_CDN_LOGO, EMPTY_IMAGE)


def install_docs(app: FastAPI) -> None:
    """Serve /docs, /docs/oauth2-redirect and /redoc with assets under STATIC_URL."""
    app.mount(STATIC_URL, StaticFiles(directory=ASSETS_DIR), name="docs-static")
    openapi_url = app.openapi_url or "/openapi.json"

    def local(request: Request, path: str) -> str:
        return f"{request.scope.get('root_path', '')}{path}"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=local(request, openapi_url),
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=local(request, "/docs/oauth2-redirect"),
            swagger_js_url=local(request, f"{STATIC_URL}/swagger-ui-bundle.js"),
            swagger_css_url=local(request, f"{STATIC_URL}/swagger-ui.css"),
            swagger_favicon_url=local(request, f"{STATIC_URL}/favicon.png"),
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=local(request, openapi_url),
            title=f"{app.title} - ReDoc",
            redoc_js_url=local(request, REDOC_JS_URL),
            redoc_favicon_url=local(request, f"{STATIC_URL}/favicon.png"),
            with_google_fonts=False,
        )
        page.headers["Content-Security-Policy"] = REDOC_CONTENT_SECURITY_POLICY
        return page

    @app.get(REDOC_JS_URL, include_in_schema=False)
    async def redoc_js() -> Response:
        return Response(
            redoc_bundle(),
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )
