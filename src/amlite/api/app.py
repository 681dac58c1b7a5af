"""Compose the server: store, services, scheduler and executor behind one FastAPI app."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from amlite import __version__
from amlite.api.auth import Authenticator
from amlite.api.deps import Runtime
from amlite.api.errors import install_error_handlers
from amlite.api.head import HeadAsGet
from amlite.api.paths import CanonicalPaths
from amlite.api.plain_urls import PlainUrls
from amlite.api.routes import assets, deployments, files, health, jobs, tracking, ui
from amlite.config import Settings
from amlite.deployments.service import Deployments
from amlite.executors._local import LocalExecutor
from amlite.executors.sandbox import job_sandbox
from amlite.scheduler.loop import Scheduler
from amlite.services.assets import Assets
from amlite.services.datastores import check_default_reachable, configured_default
from amlite.services.home import secure_home
from amlite.services.jobs import Jobs
from amlite.services.preparation import RuntimeContext
from amlite.services.tokens import ensure_admin_token
from amlite.services.workspaces import Workspaces
from amlite.store import JobRecord, Store, open_store

log = logging.getLogger("amlite.server")


class Server:
    """Everything one amlite server runs: the store, the services and the scheduler."""

    def __init__(self, settings: Settings, public_url: str, store: Store | None = None) -> None:
        secure_home(settings)
        self.settings = settings
        self.public_url = public_url.rstrip("/")
        self.store = store or open_store(settings.db_url)
        self.admin_token = ensure_admin_token(self.store, settings.token_file)
        secure_home(settings)  # the database files it just made
        default_datastore = configured_default(settings)
        if default_datastore is not None:
            check_default_reachable(settings, default_datastore)
        workspaces = Workspaces(self.store, default_datastore)
        self.jobs = Jobs(self.store, settings, workspaces, self.public_url)
        self.assets = Assets(self.store, workspaces)
        ctx = RuntimeContext(
            settings=settings, tracking_uri=f"{self.public_url}/mlflow", server_url=self.public_url
        )
        executor = LocalExecutor(
            on_exit=lambda run_dir: self.scheduler.run_ended(run_dir), sandbox=job_sandbox(settings)
        )
        self.scheduler = Scheduler(
            self.store, executor, ctx, slots=settings.slots, on_terminal=self._on_terminal
        )
        self.jobs.dispatcher = self.scheduler
        self.deployments = Deployments(self.store, self.jobs, self.assets, workspaces)
        self.runtime = Runtime(
            settings=settings,
            store=self.store,
            jobs=self.jobs,
            assets=self.assets,
            authenticate=Authenticator.for_store(self.store),
            public_url=self.public_url,
            local_reads=not self.store.multi_server,
        )

    def _on_terminal(self, job: JobRecord) -> None:
        if job.runtime.get("deleteRequested"):
            self.jobs.purge(job.workspace_key, job.name)

    def app(self) -> FastAPI:
        @asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            self.scheduler.start()
            try:
                yield
            finally:
                self.scheduler.stop()

        app = FastAPI(
            title="amlite",
            version=__version__,
            lifespan=lifespan,
            docs_url=None,
            redoc_url=None,
            openapi_url="/openapi.json",
        )
        app.state.runtime = self.runtime
        app.state.deployments = self.deployments
        install_error_handlers(app)
        for module in (health, jobs, assets, files, tracking, ui, deployments):
            app.include_router(module.router)
        app.add_middleware(CanonicalPaths)
        app.add_middleware(HeadAsGet)
        app.add_middleware(PlainUrls)
        return app
