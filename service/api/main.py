"""The app factory uvicorn workers import: each process builds its own `Cluster` of
partitions from the environment (PORTAL_* settings), so API processes are stateless and
interchangeable."""

from __future__ import annotations

from fastapi import FastAPI

from service.api.app import create_app
from service.runtime.partitions import build_cluster
from service.runtime.settings import Settings


def app_from_environment() -> FastAPI:
    settings = Settings()
    return create_app(build_cluster(settings), run_scheduler=settings.scheduler)
