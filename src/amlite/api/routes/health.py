"""Liveness: no auth, no api-version, so scripts can wait for the server."""

from __future__ import annotations

from fastapi import APIRouter

from amlite import __version__

router = APIRouter()


@router.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok", "version": __version__}
