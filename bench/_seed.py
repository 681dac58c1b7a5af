"""Write a finished sweep and many finished top-level jobs straight into a store (no runs), for
benchmarks that need the studio's or the API's scale without waiting for thousands of real
processes (a real 10,000-trial sweep takes about 15 minutes on the 2-CPU bench machine).

The rows are the ones a real run writes, through the project's ``Store`` API: the sweep as the
API stores a PUT (``parse_job_spec`` + ``resolve_references`` + ``encode_job``, accepted along
``ACCEPT_PATH``) and started as the controller starts it (Running, ``startedAt``/``nextIndex``,
its system properties); its trials as the controller creates them (``add_trials`` in batches of
500, with their token hashes, ``hyperparameters``/``_azureml.sweep_index``/parent properties and
the ``sweep`` tag), but created already along the whole path to Completed (NotStarted ...
Queued, Running, Finalizing, Completed: the same status events, in one write a batch); each
trial's primary metric logged as MLflow ``log-batch`` logs it (one
``log_metrics`` call of ``points`` values), scored as the controller scores it (``score``), and
the sweep's ``best_child_run_id``/``score`` and Completed at the end. What is not written:
processes, log files, outputs and the trials' exit code (the trial page shows no log, no files
and no exit code). About 10 ms a trial on the loaded 2-CPU machine."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

from amlite import schemas
from amlite.domain import run_properties as P
from amlite.domain.arm_id import WorkspaceRef
from amlite.domain.placeholders import substitute_group
from amlite.domain.spec_codec import encode_job
from amlite.domain.specs import CommandJobSpec, SweepJobSpec
from amlite.domain.status import ACCEPT_PATH, JobStatus
from amlite.domain.tokens import JOB_TOKEN_PREFIX, hash_token, new_token
from amlite.services.references import resolve_references
from amlite.store import MetricPoint, NewJob, Store, open_store
from amlite.sweep.parameter_values import format_value, substitutions

S = JobStatus
FINISH = (S.RUNNING, S.FINALIZING, S.COMPLETED)
BATCH = 500


def open_home_store(home: Path) -> Store:
    """The store a server started with ``AMLITE_HOME=home`` (default settings) uses."""
    home.mkdir(parents=True, exist_ok=True)
    return open_store(f"sqlite:///{home / 'amlite.db'}")


def seed_sweep(
    store: Store, ws: WorkspaceRef, name: str, body: dict[str, Any], trials: int, points: int
) -> None:
    """A Completed sweep of ``trials`` Completed trials, each with ``points`` values of the
    primary metric ``acc = x * (1 - y) + i * 0.01`` (the real-sweep mode's trial script)."""
    store.ensure_workspace(ws)
    typed, compute = resolve_references(store, ws, schemas.parse_job_spec(body))
    assert isinstance(typed, SweepJobSpec) and typed.objective is not None
    sweep = store.create_job(
        NewJob(
            workspace=ws,
            name=name,
            job_type=typed.job_type,
            spec=encode_job(typed),
            priority=typed.priority or 0,
            experiment_name=typed.experiment_name or "Default",
            compute=compute,
        ),
        then=(*ACCEPT_PATH, S.RUNNING),
    )
    store.set_runtime(ws.key, name, {**sweep.runtime, "startedAt": time.time(), "nextIndex": 0})
    metric = typed.objective.primary_metric
    store.set_system_properties(
        ws.key,
        name,
        {
            P.PRIMARY_METRIC: metric,
            P.MAX_TOTAL_TRIALS: str(trials),
            P.MAX_CONCURRENT_TRIALS: str(typed.max_concurrent_trials or trials),
        },
    )
    maximize = typed.objective.goal == "Maximize"
    rng = random.Random(7)
    best: tuple[float, str] | None = None
    for start in range(0, trials, BATCH):
        batch: list[NewJob] = []
        params: dict[str, dict[str, float]] = {}
        for index in range(start, min(start + BATCH, trials)):
            trial = f"{name}_{index}"
            params[trial] = {"x": rng.random(), "y": rng.random()}
            batch.append(_trial_job(ws, name, typed, compute, index, params[trial]))
        store.add_trials(  # in one write per batch, already along the whole path
            ws.key,
            name,
            batch,
            path=(*ACCEPT_PATH, *FINISH),
            runtime={"nextIndex": min(start + BATCH, trials)},
            tokens={job.name: hash_token(new_token(JOB_TOKEN_PREFIX)) for job in batch},
        )
        now_ms = int(time.time() * 1000)
        for trial, p in params.items():
            values = [p["x"] * (1 - p["y"]) + i * 0.01 for i in range(points)]
            store.log_metrics(
                ws.key,
                trial,
                [MetricPoint(metric, v, step=i, timestamp=now_ms) for i, v in enumerate(values)],
            )
            score = max(values) if maximize else min(values)
            store.set_system_properties(ws.key, trial, {P.SCORE: format_value(score)})
            if best is None or (score > best[0] if maximize else score < best[0]):
                best = (score, trial)
    if best is not None:
        store.set_system_properties(
            ws.key, name, {P.BEST_CHILD_RUN_ID: best[1], P.SCORE: format_value(best[0])}
        )
    store.transition(ws.key, name, [S.FINALIZING, S.COMPLETED])


def _trial_job(
    ws: WorkspaceRef,
    sweep: str,
    spec: SweepJobSpec,
    compute: str,
    index: int,
    params: dict[str, float],
) -> NewJob:
    """What ``SweepController._trial_job`` creates for trial ``index`` (command substituted)."""
    command = substitute_group(spec.trial.command, "search_space", substitutions(params))
    env = dict(spec.trial.environment_variables or {})
    env.update({f"AZUREML_SWEEP_{k}": format_value(v) for k, v in params.items()})
    child = CommandJobSpec(
        command=command,
        compute=spec.compute,
        properties={
            P.HYPERPARAMETERS: json.dumps(params, sort_keys=True),
            P.SWEEP_INDEX: str(index),
            P.PARENT_RUN_ID: sweep,
        },
        tags={"sweep": sweep},
        environment_variables=env,
        experiment_name=spec.experiment_name or "Default",
    )
    return NewJob(
        workspace=ws,
        name=f"{sweep}_{index}",
        job_type=child.job_type,
        spec=encode_job(child),
        priority=spec.priority or 0,
        experiment_name=child.experiment_name or "Default",
        parent_name=sweep,
        compute=compute,
    )


def seed_jobs(store: Store, ws: WorkspaceRef, count: int, prefix: str = "fill") -> None:
    """``count`` Completed top-level Command jobs (``sleep 1``), each stored as a PUT stores it
    and finished as the scheduler finishes it."""
    store.ensure_workspace(ws)
    body = {"properties": {"jobType": "Command", "command": "sleep 1", "compute": {}}}
    typed, compute = resolve_references(store, ws, schemas.parse_job_spec(body))
    spec = encode_job(typed)
    for i in range(count):
        store.create_job(
            NewJob(
                workspace=ws,
                name=f"{prefix}{i}",
                job_type=typed.job_type,
                spec=spec,
                experiment_name=typed.experiment_name or "Default",
                compute=compute,
            ),
            then=(*ACCEPT_PATH, *FINISH),
        )
