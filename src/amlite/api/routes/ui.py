"""amlite studio: the static web page at ``/`` and ``/static/...`` (no auth: the page holds no
data, everything it shows comes from the API with the bearer token pasted on the page), and one
amlite extension the sweep page needs, ``GET {ws}/jobs/{sweep}/trialsummary``: one page of a
sweep's trials in the order asked, with what needs every trial in compact, capped form."""

from __future__ import annotations

import mimetypes
from functools import lru_cache
from importlib import resources
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import PlainTextResponse

from amlite.api.auth import Principal
from amlite.api.deps import WS_PREFIX, api_version, principal, query_ci, runtime, workspace
from amlite.api.params import query_int
from amlite.api.responses import json_response
from amlite.domain import run_properties as P
from amlite.domain.arm_id import WorkspaceRef
from amlite.domain.specs import SweepJobSpec
from amlite.domain.status import JobStatus
from amlite.errors import ValidationFailed
from amlite.services import trial_table as T
from amlite.services.envelopes import iso
from amlite.services.tracking import MetricSummary, metric_curves, metric_summaries

router = APIRouter()

MAX_TRIALS = 100_000
DEFAULT_TOP = 100
MAX_TOP = 1_000
DEFAULT_SAMPLE = 2_000
MAX_SAMPLE = 10_000
MAX_PARAMETERS = 100
MAX_ORDERBY = 300
DEFAULT_CURVES = 40
MAX_CURVES = 500
DEFAULT_POINTS = 200
MAX_POINTS = 5_000

_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; "
        "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".md": "text/plain"}


@lru_cache(maxsize=64)
def _asset(path: str) -> bytes | None:
    """The bytes of ``ui/<path>`` inside the installed package, or None (no escaping it)."""
    parts = path.split("/")
    if not path or any(p in ("", ".", "..") or p.startswith(".") or "\\" in p for p in parts):
        return None
    node = resources.files("amlite").joinpath("ui", *parts)
    if not node.is_file():
        return None
    return node.read_bytes()


def _file_response(path: str) -> Response:
    data = _asset(path)
    if data is None:
        return PlainTextResponse("not found", status_code=404, headers=_HEADERS)
    suffix = "." + path.rsplit(".", 1)[-1] if "." in path else ""
    media = _TYPES.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"
    if media.startswith("text/"):
        media += "; charset=utf-8"
    return Response(content=data, media_type=media, headers=_HEADERS)


@router.get("/", include_in_schema=False)
def studio_index() -> Response:
    return _file_response("index.html")


@router.get("/static/{path:path}", include_in_schema=False)
def studio_static(path: str) -> Response:
    return _file_response(f"static/{path}")


@router.get(WS_PREFIX + "/jobs/{name}/trialsummary", dependencies=[Depends(api_version)])
def trial_summary(
    name: str,
    request: Request,
    ws: WorkspaceRef = Depends(workspace),
    who: Principal = Depends(principal),
) -> Response:
    """amlite extension (docs/studio.md): one page of a sweep's trials (``$top``, ``$skip``,
    ``$orderby``, ``status``) with parameters, status, score, the best and last value of the
    primary metric and early-termination marks; what needs every trial in compact form (counts
    by status, the best-so-far steps, columns of an even ``sample`` of the scored trials); and
    the primary metric's values (logged order) of at most ``curves`` trials, each cut to at
    most ``points`` values: the best trials first, then running ones, then an even sample."""
    who.require_admin()
    rt = runtime(request)
    sweep = rt.jobs.record(ws, name)  # 404 for an unknown job
    try:
        spec = sweep.job_spec
    except ValueError:  # a malformed stored spec: its trials are still listed
        spec = None
    objective = spec.objective if isinstance(spec, SweepJobSpec) else None
    metric = objective.primary_metric if objective else ""
    maximize = objective is not None and objective.goal == "Maximize"
    curves = _bounded(request, "curves", DEFAULT_CURVES, MAX_CURVES)
    points = _bounded(request, "points", DEFAULT_POINTS, MAX_POINTS)
    top = _bounded(request, "$top", DEFAULT_TOP, MAX_TOP)
    skip = query_int(request, "$skip") or 0
    most = _bounded(request, "sample", DEFAULT_SAMPLE, MAX_SAMPLE)
    order = _order(request, maximize)
    status = _status(request)

    entries, summaries = T.read_trials(rt.store, ws.key, name, metric, maximize, MAX_TRIALS)
    shown = [e for e in entries if status is None or e.status == status]
    page = T.ordered(shown, order)[skip : skip + top]
    missing = [e.name for e in page if e.name not in summaries]
    if metric and missing:
        summaries = {**summaries, **metric_summaries(rt.store, ws.key, name, metric, missing)}
    sample = T.scored_sample(entries, most, maximize)
    keys = T.parameter_names(entries, MAX_PARAMETERS)
    chosen = T.pick_curves(entries, maximize, curves)
    curves_of = metric_curves(rt.store, ws.key, name, metric, chosen) if metric else {}
    early = {e.name for e in entries if e.early}
    best_trial = sweep.system_properties.get(P.BEST_CHILD_RUN_ID)
    body = {
        "name": name,
        "status": sweep.status.value,
        "metric": metric,
        "goal": "Maximize" if maximize else "Minimize",
        "bestTrial": best_trial,
        "score": T.finite(sweep.system_properties.get(P.SCORE)),
        "total": len(entries),
        "counts": T.status_counts(entries),
        "earlyTerminated": len(early),
        "withPoints": sum(1 for e in entries if e.logged),
        "parameters": keys,
        "count": len(shown),
        "skip": skip,
        "top": top,
        "orderby": f"{order.key} {'desc' if order.descending else 'asc'}",
        "value": [_row(e, summaries.get(e.name), maximize) for e in page],
        "bestSoFar": T.best_so_far(entries, maximize),
        "sample": {
            "count": sum(1 for e in entries if e.value is not None),
            "index": [e.index for e in sample],
            "value": [e.value for e in sample],
            "hyperparameters": {k: [e.params.get(k) for e in sample] for k in keys},
            "best": next((i for i, e in enumerate(sample) if e.name == best_trial), -1),
        },
        "curves": {
            n: T.downsample([T.finite(v) for v in curves_of.get(n, [])], points) for n in chosen
        },
        "curvesEarly": [n for n in chosen if n in early],
        "curvesCapped": len(chosen) < sum(1 for e in entries if e.logged),
    }
    return json_response(body)


def _row(e: T.TrialEntry, summary: MetricSummary | None, maximize: bool) -> dict[str, Any]:
    return {
        "name": e.name,
        "index": e.index,
        "status": e.status.value,
        "hyperparameters": e.params,
        "score": e.score,
        "best": T.best_of(summary, maximize),
        "last": T.finite(summary.last) if summary else None,
        "points": summary.count if summary else 0,
        "earlyTerminated": e.early,
        "reason": e.reason,
        "createdAt": iso(e.created_at),
        "terminal": e.terminal,
    }


def _bounded(request: Request, key: str, default: int, most: int) -> int:
    value = query_int(request, key)
    return default if value is None else min(value, most)


def _order(request: Request, maximize: bool) -> T.SortOrder:
    raw = query_ci(request, "$orderby")
    order = T.parse_order(raw[:MAX_ORDERBY] if raw else None, maximize)
    if order is None or (raw is not None and len(raw) > MAX_ORDERBY):
        raise ValidationFailed.one(
            "$orderby",
            "must be index, name, status, value or hyperparameters/<name>, optionally "
            f"followed by asc or desc (at most {MAX_ORDERBY} characters)",
        )
    return order


def _status(request: Request) -> JobStatus | None:
    raw = query_ci(request, "status")
    if not raw:
        return None
    for status in JobStatus:
        if status.value.lower() == raw.lower():
            return status
    raise ValidationFailed.one("status", f"not a job status: {raw[:40]!r}")
