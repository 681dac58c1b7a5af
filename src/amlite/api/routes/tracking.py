"""The part of MLflow's tracking REST API a training script's ``mlflow`` client uses, and
``GET {ws}/jobs/{name}/metrics`` (amlite extension, ARM errors).

MLflow routes live under ``/mlflow/api/2.0/mlflow/`` (the jobs' ``MLFLOW_TRACKING_URI`` is
``<server>/mlflow``) and again under the workspace-scoped tracking URI
``/mlflow/subscriptions/{s}/resourceGroups/{rg}/workspaces/{w}``. Artifacts are in
``mlflow_artifacts``. Rules (run ids, auth, experiments) are in ``amlite.services.tracking``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from amlite.api.auth import Principal
from amlite.api.deps import WS_PREFIX, api_version, principal, runtime, workspace
from amlite.api.responses import json_response
from amlite.api.routes import mlflow_artifacts
from amlite.api.routes._mlflow import MlflowRoute, mlflow_body, query, tracking
from amlite.domain.arm_id import WorkspaceRef
from amlite.services import tracking as tracking_service
from amlite.services.mlflow_wire import (
    ENDPOINT_NOT_FOUND,
    INVALID_PARAMETER_VALUE,
    MlflowError,
    parse_batch,
    parse_metric,
    parse_param,
    parse_tag,
    required_str,
    run_id_of,
)
from amlite.services.tracking import Tracking, points_json

MLFLOW_ROOT = "/mlflow"
SCOPED_ROOT = (
    MLFLOW_ROOT
    + "/subscriptions/{subscription}/resourceGroups/{resource_group}"
    + ("/workspaces/{workspace}")
)

api = APIRouter(route_class=MlflowRoute)
Body = Mapping[str, Any]


@api.get("/runs/get")
def get_run(
    request: Request, who: Principal = Depends(principal), tr: Tracking = Depends(tracking)
) -> Response:
    job = tr.run(who, query(request, "run_id", "run_uuid"))
    return json_response({"run": tr.run_json(job)})


@api.post("/runs/update")
def update_run(
    body: Body = Depends(mlflow_body),
    who: Principal = Depends(principal),
    tr: Tracking = Depends(tracking),
) -> Response:
    job = tr.run_for_write(who, run_id_of(body))
    status, run_name = body.get("status"), body.get("run_name")
    if (status is not None and not isinstance(status, str)) or (
        run_name is not None and not isinstance(run_name, str)
    ):
        raise MlflowError(INVALID_PARAMETER_VALUE, "'status' and 'run_name' must be strings")
    tr.update_run(job, status, run_name)
    return json_response({"run_info": tr.run_info(job)})


@api.post("/runs/log-metric")
def log_metric(
    body: Body = Depends(mlflow_body),
    who: Principal = Depends(principal),
    tr: Tracking = Depends(tracking),
) -> Response:
    point = parse_metric(body)
    tr.log(tr.run_for_write(who, run_id_of(body)), metrics=[point])
    return json_response({})


@api.post("/runs/log-batch")
def log_batch(
    body: Body = Depends(mlflow_body),
    who: Principal = Depends(principal),
    tr: Tracking = Depends(tracking),
) -> Response:
    metrics, params, tags = parse_batch(body)
    tr.log(tr.run_for_write(who, run_id_of(body)), metrics=metrics, params=params, tags=tags)
    return json_response({})


@api.post("/runs/log-parameter")
def log_parameter(
    body: Body = Depends(mlflow_body),
    who: Principal = Depends(principal),
    tr: Tracking = Depends(tracking),
) -> Response:
    key, value = parse_param(body)
    tr.log(tr.run_for_write(who, run_id_of(body)), params={key: value})
    return json_response({})


@api.post("/runs/set-tag")
def set_tag(
    body: Body = Depends(mlflow_body),
    who: Principal = Depends(principal),
    tr: Tracking = Depends(tracking),
) -> Response:
    key, value = parse_tag(body)
    tr.log(tr.run_for_write(who, run_id_of(body)), tags={key: value})
    return json_response({})


@api.post("/runs/create")
def create_run(_: Principal = Depends(principal)) -> Response:
    raise MlflowError(
        INVALID_PARAMETER_VALUE,
        "amlite runs are jobs: submit a job instead of creating a run (inside a job, "
        "mlflow.start_run() resumes the job's run; nested runs are not supported)",
    )


@api.get("/metrics/get-history")
def metric_history(
    request: Request, who: Principal = Depends(principal), tr: Tracking = Depends(tracking)
) -> Response:
    job = tr.run(who, query(request, "run_id", "run_uuid"))
    return json_response({"metrics": points_json(tr.history(job, query(request, "metric_key")))})


@api.get("/experiments/get")
def get_experiment(
    request: Request, who: Principal = Depends(principal), tr: Tracking = Depends(tracking)
) -> Response:
    return json_response({"experiment": tr.experiment(who, query(request, "experiment_id"))})


@api.get("/experiments/get-by-name")
def get_experiment_by_name(
    request: Request, who: Principal = Depends(principal), tr: Tracking = Depends(tracking)
) -> Response:
    return json_response({"experiment": tr.experiment(who, query(request, "experiment_name"))})


@api.post("/experiments/create")
def create_experiment(
    body: Body = Depends(mlflow_body),
    who: Principal = Depends(principal),
    tr: Tracking = Depends(tracking),
) -> Response:
    return json_response({"experiment_id": tr.create_experiment(who, required_str(body, "name"))})


router = APIRouter()
for _root in (MLFLOW_ROOT, SCOPED_ROOT):
    router.include_router(api, prefix=_root + "/api/2.0/mlflow")
    router.include_router(mlflow_artifacts.router, prefix=_root + "/api/2.0/mlflow-artifacts")


@router.api_route(MLFLOW_ROOT + "/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown_endpoint(rest: str, request: Request) -> JSONResponse:
    """Anything else under ``/mlflow``: MLflow's 404 (the client shows the message)."""
    return JSONResponse(
        {
            "error_code": ENDPOINT_NOT_FOUND,
            "message": f"amlite does not serve {request.method} {request.url.path}",
        },
        status_code=404,
    )


@router.get(WS_PREFIX + "/jobs/{name}/metrics", dependencies=[Depends(api_version)])
def job_metrics(
    name: str,
    request: Request,
    ws: WorkspaceRef = Depends(workspace),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """amlite extension: the latest value of each metric, every metric's history in logged
    order, and the run's params and MLflow tags."""
    who.require_job(ws.key, name)
    rt = runtime(request)
    rt.jobs.record(ws, name)  # 404 for a job that does not exist
    return tracking_service.job_metrics(rt.store, ws.key, name)
