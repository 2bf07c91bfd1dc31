"""The interface's static files, served under content-hashed names.

A file's URL changes when its bytes do, so browsers may keep it for a year and never ask
again. Vendored: htmx 2.0.11 (``htmx.min.js``) and its SSE extension 2.2.4
(``htmx-ext-sse.min.js``), from the npm registry, each with its licence.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import PurePosixPath

ASSET_PREFIX = "/assets/"
SERVED = (
    "app.css",
    "card.css",
    "favicon.svg",
    "htmx.min.js",
    "htmx-ext-sse.min.js",
    "htmx.LICENSE.txt",
    "htmx-ext-sse.LICENSE.txt",
)


@dataclass(frozen=True)
class Asset:
    name: str
    body: bytes
    media_type: str
    hashed_name: str
    """The name with the first 12 hex digits of the content's SHA-256 before its suffixes."""

    @property
    def url(self) -> str:
        return ASSET_PREFIX + self.hashed_name


def hashed(name: str, body: bytes) -> str:
    suffixes = "".join(PurePosixPath(name).suffixes)
    digest = hashlib.sha256(body).hexdigest()[:12]
    return f"{name.removesuffix(suffixes)}.{digest}{suffixes}"


def _load(name: str) -> Asset:
    body = files("persona.web").joinpath("static", name).read_bytes()
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if media_type.startswith("text/") or media_type.endswith("javascript"):
        media_type += "; charset=utf-8"
    return Asset(name=name, body=body, media_type=media_type, hashed_name=hashed(name, body))


@cache
def assets() -> dict[str, Asset]:
    """Every served asset by its plain name."""
    return {name: _load(name) for name in SERVED}


@cache
def by_hashed_name() -> dict[str, Asset]:
    return {asset.hashed_name: asset for asset in assets().values()}


def asset_url(name: str) -> str:
    """The URL of a packaged asset, e.g. ``asset_url("app.css")``."""
    return assets()[name].url
