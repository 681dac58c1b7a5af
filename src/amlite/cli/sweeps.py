"""Sweep jobs in the CLI: their trials, each trial's primary metric, and how to show them.

- :func:`sweep_view` reads a sweep, its trials (``GET jobs?parentJobName=``) and, when asked,
  each trial's metrics (``GET jobs/{name}/metrics``) into a :class:`SweepView`;
- :func:`trial_table` renders the live / ``job show`` table; :func:`trial_line` and
  :func:`best_line` are the plain-text forms used when stdout is not a terminal.

A trial's *score* is the controller's ``score`` property once the trial has ended; while it
runs, the best value it has logged so far stands in.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from amlite.client import AmliteClient, ApiError
from amlite.domain import run_properties as P
from amlite.domain.json_value import JsonObject, JsonValue, member, objects, text

if TYPE_CHECKING:
    from rich.table import Table

TERMINAL = frozenset({"Completed", "Failed", "Canceled"})


@dataclass
class Trial:
    """One trial as the CLI shows it."""

    name: str
    index: int
    status: str
    params: JsonObject
    score: float | None = None
    early_terminated: bool = False
    latest: float | None = None
    best: float | None = None
    metrics_count: int = 0

    @property
    def value(self) -> float | None:
        """The value the trial is ranked by: its final score, else its best so far."""
        return self.score if self.score is not None else self.best

    def as_json(self) -> JsonObject:
        return {
            "name": self.name,
            "status": self.status,
            "hyperparameters": self.params,
            "score": self.score,
            "latest": self.latest,
            "best": self.best,
            "early_terminated": self.early_terminated,
        }


@dataclass
class SweepView:
    """A sweep and its trials at one moment."""

    name: str
    status: str
    metric: str
    maximize: bool
    best_name: str | None
    best_score: float | None
    max_total: int | None
    trials: list[Trial] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    def ranked(self) -> list[Trial]:
        """Trials best first (goal-aware); those without a value last, in index order."""
        return rank(self.trials, self.maximize)

    def leader(self) -> Trial | None:
        """The sweep's best trial: the controller's choice, else the best value so far."""
        if self.best_name:
            for trial in self.trials:
                if trial.name == self.best_name:
                    return trial
        ranked = self.ranked()
        return ranked[0] if ranked and ranked[0].value is not None else None


def is_sweep(job: Mapping[str, JsonValue]) -> bool:
    return str(member(job, "properties", "jobType") or "").lower() == "sweep"


def rank(trials: list[Trial], maximize: bool) -> list[Trial]:
    def key(t: Trial) -> tuple[int, float, int]:
        value = t.value
        if value is None or math.isnan(value):
            return (1, 0.0, t.index)
        return (0, -value if maximize else value, t.index)

    return sorted(trials, key=key)


# -- reading ----------------------------------------------------------------------------
def list_trials(client: AmliteClient, sweep: str) -> Iterator[JsonObject]:
    """Every trial job of ``sweep`` (all pages)."""
    page = client.request(
        "GET", f"{client.workspace.id}/jobs", params={"parentJobName": sweep}
    ).json()
    while True:
        yield from page.get("value") or []
        link = page.get("nextLink")
        if not link:
            return
        page = client.request("GET", str(link)).json()


def get_metrics(client: AmliteClient, name: str) -> JsonObject:
    """``{"value": [latest point per key], "history": {key: [points]}}``; empty if none."""
    try:
        data = client.request("GET", f"{client.workspace.id}/jobs/{name}/metrics").json()
    except ApiError as exc:
        if exc.status == 404:
            return {}
        raise
    return data if isinstance(data, dict) else {}


def metric_summary(
    metrics: Mapping[str, JsonValue], key: str, maximize: bool
) -> tuple[float | None, float | None, int]:
    """(latest, best, count) of one metric from a ``/metrics`` answer."""
    history = [_num(p.get("value")) for p in objects(member(metrics.get("history"), key))]
    values = [v for v in history if v is not None and not math.isnan(v)]
    latest = next(
        (_num(p.get("value")) for p in objects(metrics.get("value")) if p.get("key") == key),
        None,
    )
    if latest is None and history:
        latest = history[-1]
    if not values and latest is not None and not math.isnan(latest):
        values = [latest]
    best = (max(values) if maximize else min(values)) if values else None
    return latest, best, len(history) or (1 if latest is not None else 0)


def trial_from_job(job: Mapping[str, JsonValue]) -> Trial:
    props = member(job, "properties")
    extra = member(props, "properties")
    name = str(job.get("name") or "")
    try:
        params = json.loads(text(member(extra, P.HYPERPARAMETERS)) or "{}")
    except ValueError:
        params = {}
    try:
        index = int(text(member(extra, P.SWEEP_INDEX)) or name.rsplit("_", 1)[-1])
    except ValueError:
        index = -1
    return Trial(
        name=name,
        index=index,
        status=str(member(props, "status") or "Unknown"),
        params=params if isinstance(params, dict) else {},
        score=_num(member(extra, P.SCORE)),
        early_terminated=str(member(extra, P.EARLY_TERMINATED) or "").lower() == "true",
    )


def sweep_view(
    client: AmliteClient,
    sweep: Mapping[str, JsonValue],
    with_metrics: bool = False,
    cache: dict[str, tuple[float | None, float | None, int]] | None = None,
) -> SweepView:
    """Read the trials of ``sweep`` (a job resource); with metrics, fetch each trial's.

    ``cache`` keeps the metrics of trials that have ended, so a poll loop asks once for them.
    """
    props = member(sweep, "properties")
    extra = member(props, "properties")
    objective = member(props, "objective")
    maximize = str(member(objective, "goal") or "").lower().startswith("max")
    metric = str(member(objective, "primaryMetric") or member(extra, P.PRIMARY_METRIC) or "")
    max_total = member(props, "maxTotalTrials") or member(extra, P.MAX_TOTAL_TRIALS)
    view = SweepView(
        name=str(sweep.get("name") or ""),
        status=str(member(props, "status") or "Unknown"),
        metric=metric,
        maximize=maximize,
        best_name=text(member(extra, P.BEST_CHILD_RUN_ID)) or None,
        best_score=_num(member(extra, P.SCORE)),
        max_total=_count(max_total),
    )
    trials = [trial_from_job(j) for j in list_trials(client, view.name)]
    trials.sort(key=lambda t: t.index)
    for trial in trials:
        if with_metrics:
            summary = (cache or {}).get(trial.name)
            if summary is None:
                summary = metric_summary(get_metrics(client, trial.name), metric, maximize)
                if cache is not None and trial.status in TERMINAL:
                    cache[trial.name] = summary
            trial.latest, trial.best, trial.metrics_count = summary
        elif trial.score is not None:
            trial.best = trial.score
    view.trials = trials
    return view


# -- rendering --------------------------------------------------------------------------
def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def params_text(params: Mapping[str, JsonValue]) -> str:
    return " ".join(f"{k.lstrip('-')}={fmt(v)}" for k, v in params.items())


def trial_table(view: SweepView, ranked: bool = False) -> Table:
    """The trial table: one row per trial, the best marked with ``*``."""
    from rich.markup import escape  # lazy: amlite.cli
    from rich.table import Table

    leader = view.leader()
    counts = _counts(view)
    title = f"sweep {view.name}: {view.status}  ({counts})"
    goal = "max" if view.maximize else "min"
    table = Table(title=escape(title), caption=escape(best_line(view)), show_lines=False)
    latest = any(t.latest is not None for t in view.trials)
    for column in ("", "Trial", "Status", "Parameters"):
        table.add_column(column, overflow="fold")
    if latest:
        table.add_column(f"{view.metric} (latest)", justify="right")
    table.add_column(f"{'' if latest else view.metric + ' '}best ({goal})", justify="right")
    table.add_column("Note")
    for trial in view.ranked() if ranked else view.trials:
        mark = "*" if leader is not None and trial.name == leader.name else ""
        row = [mark, escape(trial.name), escape(trial.status), escape(params_text(trial.params))]
        if latest:
            row.append(fmt(trial.latest))
        row += [fmt(trial.value), "early terminated" if trial.early_terminated else ""]
        table.add_row(*row)
    return table


def fmt_score(value: Any) -> str:
    """A score as stored (a string) or a float, shortened for people."""
    return fmt(_num(value)) if _num(value) is not None else fmt(value)


def sweep_details(job: Mapping[str, JsonValue]) -> list[tuple[str, Any]]:
    """What makes a sweep a sweep, for ``job show``: objective, algorithm, space, limits."""
    props = member(job, "properties")
    extra = member(props, "properties")
    objective = member(props, "objective")
    policy = member(props, "earlyTermination")
    limits = {
        "max_total_trials": member(props, "maxTotalTrials") or member(extra, P.MAX_TOTAL_TRIALS),
        "max_concurrent_trials": member(props, "maxConcurrentTrials")
        or member(extra, "max_concurrent_trials"),
        "timeout": member(props, "timeout"),
    }
    best = member(extra, P.BEST_CHILD_RUN_ID)
    goal = member(objective, "goal") or ""
    primary = member(objective, "primaryMetric") or ""
    return [
        ("objective", f"{goal} {primary}".strip()),
        ("algorithm", member(props, "algorithm")),
        ("search space", member(props, "searchSpace")),
        (
            "early termination",
            {k: v for k, v in policy.items() if v is not None} if isinstance(policy, dict) else {},
        ),
        ("limits", {k: v for k, v in limits.items() if v is not None}),
        ("best trial", f"{best} (score {fmt_score(member(extra, P.SCORE))})" if best else None),
    ]


def trial_line(trial: Trial, metric: str) -> str:
    """``sw_2  Running  lr=0.05 layers=2  accuracy=0.91 (best 0.93)``."""
    parts = [trial.name, trial.status, params_text(trial.params)]
    if trial.latest is not None or trial.value is not None:
        parts.append(f"{metric}={fmt(trial.latest)} (best {fmt(trial.value)})")
    if trial.early_terminated:
        parts.append("[early terminated]")
    return "  ".join(p for p in parts if p)


def best_line(view: SweepView) -> str:
    """``best so far: sw_3 accuracy=0.93 (lr=0.05 layers=2)`` (``best:`` once it ended)."""
    label = "best" if view.done else "best so far"
    leader = view.leader()
    if leader is None:
        return f"{label}: -"
    score = view.best_score if leader.name == view.best_name else None
    if score is None:
        score = leader.value
    return f"{label}: {leader.name} {view.metric}={fmt(score)} ({params_text(leader.params)})"


def final_lines(view: SweepView) -> list[str]:
    """What ``--stream`` ends with: the best trial (name, score, parameters)."""
    leader = view.leader() if view.best_name else None
    if leader is None:
        return [f"sweep {view.name}: {view.status}; no trial reported {view.metric}"]
    score = view.best_score if view.best_score is not None else leader.value
    return [
        f"best trial: {leader.name}",
        f"  {view.metric} ({'max' if view.maximize else 'min'}): {fmt(score)}",
        f"  parameters: {params_text(leader.params)}",
    ]


def _counts(view: SweepView) -> str:
    by_status: dict[str, int] = {}
    for trial in view.trials:
        by_status[trial.status] = by_status.get(trial.status, 0) + 1
    total = f"{len(view.trials)}/{view.max_total}" if view.max_total else str(len(view.trials))
    detail = ", ".join(f"{n} {s.lower()}" for s, n in sorted(by_status.items()))
    return f"{total} trials" + (f": {detail}" if detail else "")


def _num(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _count(value: JsonValue) -> int | None:
    """A trial limit as given (a number, or a string in the properties); None when unset."""
    return int(value) if isinstance(value, int | float | str) and value else None
