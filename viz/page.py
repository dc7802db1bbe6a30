"""The analysts' page: `/viz` and its static assets, served by the same app as the API.

The page holds no data and no key: it is static HTML, CSS and JavaScript that asks the GraphQL
API at `/graphql` with the key the analyst enters (kept in sessionStorage, sent as
`Authorization: Bearer <key>`), so it shows exactly what the key's role may see. The graph
library (cytoscape.js) comes from the npm registry at install time (`make install` copies it
next to the page's assets) and is served from here: the page loads nothing from the internet.

api/ never imports viz/: the CLI passes `viz_router()` to `create_app(..., extra_routers=...)`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

STATIC = Path(__file__).parent / "static"
LIBRARY = "cytoscape.min.js"
# where `npm ci` puts the library in a source checkout (used when it was not copied)
_NODE_MODULES = Path(__file__).parent.parent / "node_modules" / "cytoscape" / "dist" / LIBRARY

ASSETS: dict[str, str] = {
    "viz.css": "text/css; charset=utf-8",
    "graph.js": "text/javascript; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "export-viewer.js": "text/javascript; charset=utf-8",
    LIBRARY: "text/javascript; charset=utf-8",
}

# the page talks to its own origin only; inline styles are cytoscape's own
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class MissingLibrary(RuntimeError):
    """The graph library is not installed: run `make install` (or `npm ci`)."""


def library_path() -> Path:
    """The graph library: copied next to the assets at install, else in node_modules."""
    for candidate in (STATIC / LIBRARY, _NODE_MODULES):
        if candidate.is_file():
            return candidate
    raise MissingLibrary(
        f"{LIBRARY} not found in {STATIC} or {_NODE_MODULES.parent}: "
        "run `make install` (it runs `npm ci` and copies the library)"
    )


@cache
def library_text() -> str:
    return library_path().read_text(encoding="utf-8")


def asset_text(name: str) -> str:
    if name not in ASSETS or name == LIBRARY:
        raise KeyError(name)
    return (STATIC / name).read_text(encoding="utf-8")


def viz_router() -> APIRouter:
    """`GET /viz` (the page) and `GET /viz/static/<asset>` (a fixed list of files)."""
    router = APIRouter(include_in_schema=False)

    @router.get("/viz")
    def page() -> HTMLResponse:
        html = (STATIC / "index.html").read_text(encoding="utf-8")
        return HTMLResponse(html, headers=HEADERS)

    @router.get("/viz/")
    def page_slash() -> RedirectResponse:
        return RedirectResponse("/viz")

    @router.get("/viz/static/{name}")
    def asset(name: str) -> FileResponse:
        # a fixed list, so no path a client sends can reach another file
        media_type = ASSETS.get(name)
        if media_type is None:
            raise HTTPException(status_code=404, detail="no such asset")
        try:
            path = library_path() if name == LIBRARY else STATIC / name
        except MissingLibrary as exc:
            raise HTTPException(status_code=503, detail=str(exc)) from None
        return FileResponse(path, media_type=media_type, headers=HEADERS)

    return router
