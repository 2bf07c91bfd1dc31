from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from persona.web.assets import ASSET_PREFIX, by_hashed_name

router = APIRouter(include_in_schema=False)

A_YEAR = 365 * 24 * 3600


@router.get(ASSET_PREFIX + "{file_name}")
async def get_asset(file_name: str) -> Response:
    """A vendored or packaged file, cached for good: its name changes with its content."""
    asset = by_hashed_name().get(file_name)
    if asset is None:
        return Response("No such asset.", status_code=404, media_type="text/plain")
    return Response(
        asset.body,
        media_type=asset.media_type,
        headers={
            "Cache-Control": f"public, max-age={A_YEAR}, immutable",
            "X-Content-Type-Options": "nosniff",
        },
    )
