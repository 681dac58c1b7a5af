"""Early-termination benchmark (issue: sweep jobs): compute saved vs best score lost.

A synthetic learning-curve benchmark on amlite's pure policies (no server). Each seed
generates ``--trials`` learning curves of ``--intervals`` values with known outcomes:

    value_t = final - (final - start) * exp(-t / tau) + noise      (t = 1 .. intervals)

with ``final`` drawn from a skewed distribution, ``start`` and ``tau`` varying per trial,
and a share of "late bloomers" (slow tau, high final) whose curves cross the others: early
on they look worse than mediocre fast starters. A trial's score is its best logged value
(SEMANTICS, "Objective"), so the no-policy best is the best full-curve score.

The sweep is simulated the way the controller runs it: ``maxConcurrentTrials`` = C slots,
trials start in index order as slots free up; time advances one interval per step; each
running trial logs one value per step; after its N-th value, if ``should_evaluate(N)``,
``decide(trial, N, histories, goal)`` runs with every trial that has logged so far (all its
values; the policy itself uses the first min(N, count)), and the trial stops if told to.

For each policy: the fraction of trial compute (logged intervals) saved against no policy,
the sweep's makespan, the best score found vs the no-policy best, and whether the true best
trial survived. Everything runs for goal Maximize and again on the negated curves with goal
Minimize (policies symmetric under negation must save exactly the same).

Run: ``.venv/bin/python bench/bench_early_termination.py`` (a few minutes on 2 cores;
``--quick`` for a smoke run). Results are appended to ``bench/results/early_termination.md``.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from amlite.sweep.policies import Policy, make_policy

RESULTS = Path(__file__).parent / "results" / "early_termination.md"
LATE_BONUS = 0.06


# --- synthetic learning curves --------------------------------------------------------------


@dataclass(frozen=True)
class Curves:
    """One seed's trials: ``values[i][t]`` is trial i's value at interval t + 1."""

    values: list[list[float]]
    late: list[bool]


def make_curves(seed: int, trials: int, intervals: int, late_share: float) -> Curves:
    """Accuracy-like curves (higher is better, roughly in [0, 1])."""
    rng = random.Random(seed)
    values: list[list[float]] = []
    late: list[bool] = []
    for _ in range(trials):
        bloomer = rng.random() < late_share
        final = 0.50 + 0.42 * rng.betavariate(2.0, 3.5)
        if bloomer:
            final += LATE_BONUS  # a little better at the end than their peers ...
            tau = rng.uniform(12.0, 25.0)  # ... but slow: behind most trials for a while
            start = rng.uniform(0.05, 0.15)
        else:
            tau = rng.uniform(2.0, 12.0)
            start = rng.uniform(0.10, 0.35)
        noise = rng.uniform(0.003, 0.012)
        curve = [
            final - (final - start) * math.exp(-t / tau) + rng.gauss(0.0, noise)
            for t in range(1, intervals + 1)
        ]
        values.append(curve)
        late.append(bloomer)
    return Curves(values, late)


# --- the simulated sweep --------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    compute: int  # intervals run, summed over trials
    makespan: int  # time steps until the last trial ended
    best: float  # best score found (Maximize units)
    best_trial: int
    terminated: frozenset[int]
    decisions: int  # decide() calls that were due


def simulate(
    curves: list[list[float]], policy: Policy | None, goal: str, concurrency: int
) -> Outcome:
    """Run the sweep: C slots, index order, one value per running trial per time step."""
    total = len(curves)
    histories: dict[str, list[float]] = {}
    logged = [0] * total
    running: list[int] = []
    next_trial = 0
    terminated: set[int] = set()
    step = 0
    decisions = 0
    while next_trial < total or running:
        while len(running) < concurrency and next_trial < total:
            running.append(next_trial)
            next_trial += 1
        step += 1
        still: list[int] = []
        for i in running:
            name = str(i)
            n = logged[i] + 1
            logged[i] = n
            histories.setdefault(name, []).append(curves[i][n - 1])
            due = policy is not None and policy.should_evaluate(n)
            decisions += due
            if due and policy is not None and policy.decide(name, n, histories, goal).terminate:
                terminated.add(i)
                continue
            if n < len(curves[i]):
                still.append(i)
        running = still
    maximize = goal == "Maximize"
    scores = {int(name): (max(vals) if maximize else min(vals)) for name, vals in histories.items()}
    best_trial = (max if maximize else min)(scores, key=lambda i: scores[i])
    best = scores[best_trial] if maximize else -scores[best_trial]
    return Outcome(sum(logged), step, best, best_trial, frozenset(terminated), decisions)


# --- the policies measured ------------------------------------------------------------------

#: (row label, wire earlyTermination spec or None). slackAmount is in metric units.
POLICIES: list[tuple[str, dict[str, Any] | None]] = [
    ("no policy", None),
    ("Bandit slackFactor 0.1", {"policyType": "Bandit", "slackFactor": 0.1}),
    ("Bandit slackFactor 0.2", {"policyType": "Bandit", "slackFactor": 0.2}),
    ("Bandit slackAmount 0.15", {"policyType": "Bandit", "slackAmount": 0.15}),
    ("MedianStopping", {"policyType": "MedianStopping"}),
    ("TruncationSelection 10%", {"policyType": "TruncationSelection", "truncationPercentage": 10}),
    ("TruncationSelection 25%", {"policyType": "TruncationSelection", "truncationPercentage": 25}),
]
SLOW_GATE: list[tuple[str, dict[str, Any] | None]] = [
    ("Bandit slackFactor 0.1", {"policyType": "Bandit", "slackFactor": 0.1}),
    ("MedianStopping", {"policyType": "MedianStopping"}),
    ("TruncationSelection 25%", {"policyType": "TruncationSelection", "truncationPercentage": 25}),
]


def rows() -> list[tuple[str, dict[str, Any] | None]]:
    out: list[tuple[str, dict[str, Any] | None]] = []
    for label, spec in POLICIES:
        if spec is None:
            out.append((label, None))
        else:
            out.append(
                (
                    f"{label} (delay 5, every 1)",
                    {**spec, "delayEvaluation": 5, "evaluationInterval": 1},
                )
            )
    for label, spec in SLOW_GATE:
        assert spec is not None
        out.append(
            (
                f"{label} (delay 10, every 2)",
                {**spec, "delayEvaluation": 10, "evaluationInterval": 2},
            )
        )
    return out


@dataclass(frozen=True)
class SeedResult:
    label: str
    seed: int
    saved: float  # fraction of compute saved, Maximize
    saved_min: float  # the same on negated curves with goal Minimize
    same_as_min: bool  # identical terminations under both goals
    makespan_ratio: float
    gap: float  # no-policy best - best found (>= 0)
    rel_gap: float  # gap / no-policy best
    survived: bool  # the true best trial ran to the end
    late_killed: float  # share of late bloomers terminated
    seconds: float
    decisions: int


def run_seed(args: tuple[int, int, int, int, float]) -> list[SeedResult]:
    seed, trials, intervals, concurrency, late_share = args
    curves = make_curves(seed, trials, intervals, late_share)
    negated = [[-v for v in curve] for curve in curves.values]
    base = simulate(curves.values, None, "Maximize", concurrency)
    late_count = max(1, sum(curves.late))
    out: list[SeedResult] = []
    for label, spec in rows():
        t0 = time.perf_counter()
        got = simulate(curves.values, make_policy(spec), "Maximize", concurrency)
        got_min = simulate(negated, make_policy(spec), "Minimize", concurrency)
        seconds = time.perf_counter() - t0
        out.append(
            SeedResult(
                label=label,
                seed=seed,
                saved=1 - got.compute / base.compute,
                saved_min=1 - got_min.compute / base.compute,
                same_as_min=got.terminated == got_min.terminated,
                makespan_ratio=got.makespan / base.makespan,
                gap=base.best - got.best,
                rel_gap=(base.best - got.best) / abs(base.best),
                survived=base.best_trial not in got.terminated,
                late_killed=sum(1 for i in got.terminated if curves.late[i]) / late_count,
                seconds=seconds,
                decisions=got.decisions + got_min.decisions,
            )
        )
    return out


# --- report ---------------------------------------------------------------------------------


def med(values: Sequence[float]) -> float:
    return statistics.median(values)


def quartiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q3


def per_call(results: list[SeedResult]) -> str:
    calls = sum(r.decisions for r in results)
    if not calls:
        return "—"
    return f"{sum(r.seconds for r in results) / calls * 1e6:.0f} µs"


def scenario(args: argparse.Namespace, share: float) -> list[str]:
    """One table: every policy over every seed with ``share`` late bloomers."""
    jobs = [
        (seed, args.trials, args.intervals, args.concurrency, share) for seed in range(args.seeds)
    ]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        per_seed = list(pool.map(run_seed, jobs))
    by_label: dict[str, list[SeedResult]] = {}
    for results in per_seed:
        for r in results:
            by_label.setdefault(r.label, []).append(r)
    seeds = args.seeds
    lines = [
        f"**{share:.0%} late bloomers**"
        + (" (early rank predicts final rank, up to noise)" if share == 0 else ""),
        "",
        "| policy | compute saved, median (IQR) | saved, Minimize on -curves | same "
        "terminations both goals | makespan vs no policy | best found: gap to no-policy best, "
        "median (max); relative | true best survived | late bloomers killed, median | "
        "policy CPU per simulated sweep; per decide() |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, results in by_label.items():
        saved = [r.saved for r in results]
        q1, q3 = quartiles(saved)
        same = sum(r.same_as_min for r in results)
        killed = f"{med([r.late_killed for r in results]):.0%}" if share > 0 else "—"
        lines.append(
            f"| {label} | {med(saved):.1%} ({q1:.1%} … {q3:.1%}) | "
            f"{med([r.saved_min for r in results]):.1%} | {same}/{seeds} | "
            f"{med([r.makespan_ratio for r in results]):.2f} | "
            f"{med([r.gap for r in results]):.4f} ({max(r.gap for r in results):.4f}); "
            f"{med([r.rel_gap for r in results]):.2%} | "
            f"{sum(r.survived for r in results)}/{seeds} | {killed} | "
            f"{med([r.seconds for r in results]) / 2:.2f} s; {per_call(results)} |"
        )
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--intervals", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument(
        "--late-shares",
        default="0,0.1",
        help="comma-separated shares of late bloomers; one table each",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="3 seeds of 60 trials x 40 intervals")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.trials, args.intervals = 3, 60, 40
    started = time.perf_counter()
    lines: list[str] = []
    shares = [float(x) for x in args.late_shares.split(",")]
    for share in shares:
        t0 = time.perf_counter()
        lines += scenario(args, share)
        print(f"late share {share}: {time.perf_counter() - t0:.1f}s")
    elapsed = time.perf_counter() - started
    header = (
        f"## {datetime.now().strftime('%Y-%m-%d %H:%M')} (2 cores; {args.seeds} seeds x "
        f"{args.trials} trials x {args.intervals} intervals; maxConcurrentTrials "
        f"{args.concurrency}; goal Maximize, and Minimize on the negated curves; "
        f"{elapsed:.0f}s" + ("; --quick" if args.quick else "") + ")"
    )
    lines = [header, "", *lines]
    lines += [
        "Curves: value_t = final - (final - start)*exp(-t/tau) + N(0, sd), sd in [0.003, 0.012]; "
        "final = 0.50 + 0.42*Beta(2, 3.5); regular trials tau in [2, 12], start in "
        f"[0.10, 0.35]; late bloomers final + {LATE_BONUS}, tau in [12, 25], start in "
        "[0.05, 0.15]. Compute = logged intervals summed over trials (no policy: trials x "
        "intervals); makespan = time steps until the last trial ends, relative to no policy. "
        "A terminated trial's score is its best logged value; the gap is in metric units "
        "(and relative to the no-policy best = the best full-curve score); max = worst seed. "
        '"True best survived": the trial with the best full-curve score was not terminated. '
        "The Minimize column runs the same sweep on the negated curves with goal Minimize; "
        '"same terminations" counts seeds where exactly the same trials were stopped at both '
        "goals. Policy CPU = the policy's decide() time for one simulated sweep (the "
        "simulation itself is negligible).",
        "",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with RESULTS.open("a") as f:
            f.write(text)


if __name__ == "__main__":
    main()
