"""amlite studio: the static web page at ``/`` and ``/static/...`` (no auth: the page holds no
data, everything it shows comes from the API with the bearer token pasted on the page), and one
amlite extension the sweep page needs, ``GET {ws}/jobs/{sweep}/trialsummary``: every trial of
a sweep in one compact answer, with a capped, sampled set of primary-metric curves."""

from __future__ import annotations

import json
import math
import mimetypes
from functools import lru_cache
from importlib import resources
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import PlainTextResponse

from amlite.api.auth import Principal
from amlite.api.deps import WS_PREFIX, api_version, principal, runtime, workspace
from amlite.api.params import query_int
from amlite.api.responses import json_response
from amlite.domain import run_properties as P
from amlite.domain.arm_id import WorkspaceRef
from amlite.domain.specs import SweepJobSpec
from amlite.domain.status import JobStatus
from amlite.services.envelopes import iso
from amlite.services.tracking import metric_curves, trials_and_metric

router = APIRouter()

TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED})
MAX_TRIALS = 100_000
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
    """amlite extension: a sweep's trials (index order) with parameters, status, score, the
    best and last value of the primary metric and early-termination marks; plus the primary
    metric's values (logged order) of at most ``curves`` trials, each cut to at most ``points``
    values: the best trials first, then running ones, then an even sample of the rest."""
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

    records, summaries = trials_and_metric(rt.store, ws.key, name, metric, MAX_TRIALS)
    trials: list[dict[str, Any]] = []
    for record in records:
        extra = record.system_properties
        user = record.properties
        summary = summaries.get(record.name)
        trials.append(
            {
                "name": record.name,
                "index": _index(extra.get(P.SWEEP_INDEX) or user.get(P.SWEEP_INDEX), record.name),
                "status": record.status.value,
                "hyperparameters": _params(
                    extra.get(P.HYPERPARAMETERS) or user.get(P.HYPERPARAMETERS)
                ),
                "score": _finite(extra.get(P.SCORE)),
                "best": (summary.high if maximize else summary.low) if summary else None,
                "last": _finite(summary.last) if summary else None,
                "points": summary.count if summary else 0,
                "earlyTerminated": str(extra.get(P.EARLY_TERMINATED, "")).lower() == "true",
                "reason": record.status_reason,
                "createdAt": iso(record.created_at),
                "terminal": record.status in TERMINAL,
            }
        )
    trials.sort(key=lambda t: (t["index"], t["name"]))
    chosen = _pick_curves(trials, maximize, curves)
    curves_of = metric_curves(rt.store, ws.key, name, metric, chosen) if metric else {}
    body = {
        "name": name,
        "status": sweep.status.value,
        "metric": metric,
        "goal": "Maximize" if maximize else "Minimize",
        "bestTrial": sweep.system_properties.get(P.BEST_CHILD_RUN_ID),
        "score": _finite(sweep.system_properties.get(P.SCORE)),
        "value": trials,
        "curves": {
            n: _downsample([_finite(v) for v in curves_of.get(n, [])], points) for n in chosen
        },
        "curvesCapped": len(chosen) < sum(1 for t in trials if t["points"]),
    }
    return json_response(body)  # rendered in one pass: a 10,000-trial answer is megabytes


def _bounded(request: Request, key: str, default: int, most: int) -> int:
    value = query_int(request, key)
    return default if value is None else min(value, most)


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _index(value: Any, name: str) -> int:
    for candidate in (value, name.rsplit("_", 1)[-1]):
        try:
            return int(str(candidate))
        except ValueError:
            continue
    return -1


def _params(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        parsed = json.loads(str(raw or "{}"))
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _value_of(trial: dict[str, Any]) -> float | None:
    value: float | None = trial["score"] if trial["score"] is not None else trial["best"]
    return value


def _pick_curves(trials: list[dict[str, Any]], maximize: bool, cap: int) -> list[str]:
    """Which trials' curves to send: up to half the cap for the best, then running trials,
    then an even stride over the others (so a 10,000-trial sweep draws a readable sample)."""
    with_points = [t for t in trials if t["points"]]
    if len(with_points) <= cap:
        return [t["name"] for t in with_points]
    scored = [t for t in with_points if _value_of(t) is not None]
    scored.sort(key=lambda t: -(_value_of(t) or 0.0) if maximize else (_value_of(t) or 0.0))
    chosen: list[str] = [t["name"] for t in scored[: cap // 2]]
    taken = set(chosen)
    for t in with_points:
        if len(chosen) >= cap - cap // 4:
            break
        if not t["terminal"] and t["name"] not in taken:
            chosen.append(t["name"])
            taken.add(t["name"])
    rest = [t for t in with_points if t["name"] not in taken]
    room = cap - len(chosen)
    if rest and room > 0:
        stride = len(rest) / room
        chosen += [rest[int(i * stride)]["name"] for i in range(room)]
    return chosen


def _downsample(values: list[float | None], most: int) -> list[list[Any]]:
    """``[[logged index, value], ...]``: every value, or an even stride keeping the last."""
    pairs = [[i, v] for i, v in enumerate(values)]
    if len(pairs) <= most or most < 2:
        return pairs[:most] if most < 2 else pairs
    stride = (len(pairs) - 1) / (most - 1)
    return [pairs[round(i * stride)] for i in range(most)]
