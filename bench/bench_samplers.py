"""Sampler benchmark (issue: sweep jobs): Bayesian vs Random on standard test functions.

Runs amlite's ``RandomSampler`` and ``BayesianSampler`` through the loop the sweep
controller uses (propose from the history, evaluate, record a ``TrialOutcome``; goal
Minimize) on two textbook functions:

- Branin (2-D, x1 in [-5, 10], x2 in [0, 15], global minimum 0.397887);
- Hartmann-6 (6-D on [0, 1]^6, global minimum -3.32237);

over several seeds, and, as the peer figure, Optuna's own ``TPESampler`` used directly
(``optuna.create_study`` + ``study.optimize``) on the same functions and seeds. Reports the
median best-after-N and after N/2, the interquartile range, the optimum gap, Bayesian's
per-seed wins over Random, and the time each proposal takes (the proposal is controller
overhead; the sweep target is at most 10 ms of controller overhead per trial).

Run: ``.venv/bin/python bench/bench_samplers.py`` (well under a minute on 2 cores;
``--quick`` for a smoke run). Results are appended to ``bench/results/samplers.md``.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import optuna

from amlite.domain.search_space import parse_search_space
from amlite.sweep.samplers import Sampler, TrialOutcome, make_sampler

RESULTS = Path(__file__).parent / "results" / "samplers.md"
OVERHEAD_TARGET_MS = 10.0

Objective = Callable[[Mapping[str, Any]], float]


# --- test functions (textbook definitions) -------------------------------------------------


def branin(p: Mapping[str, Any]) -> float:
    """Branin-Hoo: a(x2 - b x1^2 + c x1 - r)^2 + s(1 - t) cos(x1) + s."""
    x1, x2 = float(p["x1"]), float(p["x2"])
    a, b, c = 1.0, 5.1 / (4 * math.pi**2), 5 / math.pi
    r, s, t = 6.0, 10.0, 1 / (8 * math.pi)
    return a * (x2 - b * x1**2 + c * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s


HARTMANN_ALPHA = (1.0, 1.2, 3.0, 3.2)
HARTMANN_A = (
    (10.0, 3.0, 17.0, 3.5, 1.7, 8.0),
    (0.05, 10.0, 17.0, 0.1, 8.0, 14.0),
    (3.0, 3.5, 1.7, 10.0, 17.0, 8.0),
    (17.0, 8.0, 0.05, 10.0, 0.1, 14.0),
)
HARTMANN_P = tuple(
    tuple(v * 1e-4 for v in row)
    for row in (
        (1312, 1696, 5569, 124, 8283, 5886),
        (2329, 4135, 8307, 3736, 1004, 9991),
        (2348, 1451, 3522, 2883, 3047, 6650),
        (4047, 8828, 8732, 5743, 1091, 381),
    )
)


def hartmann6(p: Mapping[str, Any]) -> float:
    """Hartmann-6: -sum_i alpha_i exp(-sum_j A_ij (x_j - P_ij)^2)."""
    x = [float(p[f"x{j + 1}"]) for j in range(6)]
    total = 0.0
    for alpha, a_row, p_row in zip(HARTMANN_ALPHA, HARTMANN_A, HARTMANN_P, strict=True):
        inner = sum(a * (xj - pj) ** 2 for a, xj, pj in zip(a_row, x, p_row, strict=True))
        total += alpha * math.exp(-inner)
    return -total


@dataclass(frozen=True)
class Problem:
    name: str
    objective: Objective
    #: the wire search space: {"x1": ["uniform", [low, high]], ...}
    wire: dict[str, list[Any]]
    optimum: float
    argmin: dict[str, float]
    n_trials: int


def problems(quick: bool) -> list[Problem]:
    return [
        Problem(
            "Branin",
            branin,
            {"x1": ["uniform", [-5, 10]], "x2": ["uniform", [0, 15]]},
            0.397887,
            {"x1": math.pi, "x2": 2.275},
            20 if quick else 50,
        ),
        Problem(
            "Hartmann-6",
            hartmann6,
            {f"x{j + 1}": ["uniform", [0, 1]] for j in range(6)},
            -3.32237,
            dict(
                zip(
                    [f"x{j + 1}" for j in range(6)],
                    [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573],
                    strict=True,
                )
            ),
            24 if quick else 80,
        ),
    ]


# --- runs -----------------------------------------------------------------------------------


@dataclass
class Run:
    """One optimizer on one problem and seed: the running best and the proposal times."""

    best_curve: list[float] = field(default_factory=list)
    propose_ms: list[float] = field(default_factory=list)

    def best_at(self, n: int) -> float:
        return self.best_curve[n - 1]


def run_amlite(sampler: Sampler, problem: Problem) -> Run:
    """The sweep controller's loop: propose(index, history) -> evaluate -> record."""
    run = Run()
    history: list[TrialOutcome] = []
    best = math.inf
    for index in range(problem.n_trials):
        t0 = time.perf_counter()
        params = sampler.propose(index, history)
        run.propose_ms.append((time.perf_counter() - t0) * 1000)
        assert params is not None
        value = problem.objective(params)
        history.append(TrialOutcome(index, params, "complete", value))
        best = min(best, value)
        run.best_curve.append(best)
    return run


def run_optuna(problem: Problem, seed: int, *, multivariate: bool) -> Run:
    """The peer: Optuna's TPESampler driven by study.optimize on the same function."""
    space = parse_search_space(problem.wire)
    run = Run()
    values: list[float] = []
    last = [time.perf_counter()]

    def objective(trial: optuna.Trial) -> float:
        params = {
            name: trial.suggest_float(name, dist.low, dist.high)  # type: ignore[union-attr]
            for name, dist in space.items()
        }
        # time from the end of the previous evaluation to here = Optuna's per-trial overhead
        run.propose_ms.append((time.perf_counter() - last[0]) * 1000)
        value = problem.objective(params)
        values.append(value)
        last[0] = time.perf_counter()
        return value

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ExperimentalWarning for multivariate
        sampler = optuna.samplers.TPESampler(seed=seed, multivariate=multivariate)
        study = optuna.create_study(direction="minimize", sampler=sampler)
        last[0] = time.perf_counter()
        study.optimize(objective, n_trials=problem.n_trials)
    best = math.inf
    for value in values:
        best = min(best, value)
        run.best_curve.append(best)
    return run


# --- statistics -----------------------------------------------------------------------------


def quartiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def fmt(value: float) -> str:
    return f"{value:.4f}" if abs(value) < 100 else f"{value:.1f}"


OPTIMIZERS = ("amlite Random", "amlite Bayesian", "Optuna TPE direct", "Optuna TPE mv direct")


def bench_problem(problem: Problem, seeds: list[int]) -> dict[str, list[Run]]:
    space = parse_search_space(problem.wire)
    # sanity: the definitions hit their textbook minima
    assert abs(problem.objective(problem.argmin) - problem.optimum) < 1e-4, problem.name
    runs: dict[str, list[Run]] = {name: [] for name in OPTIMIZERS}
    for seed in seeds:
        random = make_sampler("Random", space, seed=seed, goal="Minimize")
        bayes = make_sampler("Bayesian", space, seed=seed, goal="Minimize")
        runs["amlite Random"].append(run_amlite(random, problem))
        runs["amlite Bayesian"].append(run_amlite(bayes, problem))
        runs["Optuna TPE direct"].append(run_optuna(problem, seed, multivariate=False))
        runs["Optuna TPE mv direct"].append(run_optuna(problem, seed, multivariate=True))
    return runs


def table(problem: Problem, runs: dict[str, list[Run]]) -> tuple[list[str], dict[str, Any]]:
    n, half = problem.n_trials, problem.n_trials // 2
    lines = [
        f"**{problem.name}** (minimum {problem.optimum}; N = {n}; {len(runs['amlite Random'])} "
        "seeds)",
        "",
        f"| optimizer | median best @ N/2={half} | median best @ N={n} | IQR @ N | "
        f"median gap to optimum @ N | wins vs amlite Random @ N | ms per proposal p50 / p90 / "
        f"at trial {n - 1} |",
        "|---|---|---|---|---|---|---|",
    ]
    random_best = [r.best_at(n) for r in runs["amlite Random"]]
    summary: dict[str, Any] = {}
    for name in OPTIMIZERS:
        rs = runs[name]
        at_n = [r.best_at(n) for r in rs]
        at_half = [r.best_at(half) for r in rs]
        q1, med, q3 = quartiles(at_n)
        gaps = [v - problem.optimum for v in at_n]
        times = [t for r in rs for t in r.propose_ms]
        last = statistics.median(r.propose_ms[-1] for r in rs)
        if name == "amlite Random":
            wins = "—"
        else:
            won = sum(1 for a, b in zip(at_n, random_best, strict=True) if a < b)
            tied = sum(1 for a, b in zip(at_n, random_best, strict=True) if a == b)
            wins = f"{won}/{len(rs)}" + (f" ({tied} tied)" if tied else "")
            summary[f"{name} wins"] = won
        summary[f"{name} median"] = med
        summary[f"{name} p50 ms"] = statistics.median(times)
        summary[f"{name} p90 ms"] = pct(times, 0.9)
        summary[f"{name} last ms"] = last
        lines.append(
            f"| {name} | {fmt(statistics.median(at_half))} | {fmt(med)} | "
            f"{fmt(q1)} … {fmt(q3)} | {fmt(statistics.median(gaps))} | {wins} | "
            f"{statistics.median(times):.2f} / {pct(times, 0.9):.2f} / {last:.2f} |"
        )
    return lines, summary


def proposal_scaling(sizes: list[int], repeats: int) -> list[str]:
    """Time of one Bayesian proposal against the history size (Hartmann-6 space).

    amlite keeps its study between proposals (the first one builds it); the history grows
    by each proposed (running) trial, as in the controller. The peer asks a study that
    already holds the same trials.
    """
    problem = problems(quick=False)[1]
    space = parse_search_space(problem.wire)
    random = make_sampler("Random", space, seed=12345, goal="Minimize")
    lines = [
        "**Bayesian proposal time against history size** (Hartmann-6 space, 6 uniform "
        f"parameters; median of {repeats} proposals)",
        "",
        "| completed trials in history | amlite Bayesian `propose` | Optuna `study.ask` on a "
        "populated study (TPE mv, liar) | ratio | within 10 ms |",
        "|---|---|---|---|---|",
    ]
    for size in sizes:
        history = []
        for index in range(size):
            params = random.propose(index, [])
            assert params is not None
            history.append(TrialOutcome(index, params, "complete", problem.objective(params)))
        bayes = make_sampler("Bayesian", space, seed=7, goal="Minimize")
        amlite_ms = []
        grown = list(history)
        first = bayes.propose(size, grown)  # the first proposal builds the study
        grown.append(TrialOutcome(size, first or {}, "running", None))
        for k in range(1, repeats + 1):
            t0 = time.perf_counter()
            params = bayes.propose(size + k, grown)
            amlite_ms.append((time.perf_counter() - t0) * 1000)
            # as in the controller: each proposal becomes a running trial of the history
            grown.append(TrialOutcome(size + k, params or {}, "running", None))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sampler = optuna.samplers.TPESampler(seed=7, multivariate=True, constant_liar=True)
            study = optuna.create_study(direction="minimize", sampler=sampler)
            dists: dict[str, optuna.distributions.BaseDistribution] = {
                name: optuna.distributions.FloatDistribution(d.low, d.high)  # type: ignore[union-attr]
                for name, d in space.items()
            }
            for outcome in history:
                study.add_trial(
                    optuna.trial.create_trial(
                        params=dict(outcome.params), distributions=dists, value=outcome.value
                    )
                )
            peer_ms = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                trial = study.ask(dists)
                peer_ms.append((time.perf_counter() - t0) * 1000)
                study.tell(trial, state=optuna.trial.TrialState.FAIL)  # keep the history fixed
        a, b = statistics.median(amlite_ms), statistics.median(peer_ms)
        ok = "yes" if a <= OVERHEAD_TARGET_MS else "**no**"
        lines.append(f"| {size} | {a:.1f} ms | {b:.1f} ms | {a / b:.1f}x | {ok} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="3 seeds, short runs")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    seeds = list(range(3 if args.quick else args.seeds))
    started = time.perf_counter()
    body: list[str] = []
    verdicts: list[str] = []
    overhead: list[str] = []
    for problem in problems(args.quick):
        t0 = time.perf_counter()
        runs = bench_problem(problem, seeds)
        print(f"{problem.name}: {time.perf_counter() - t0:.1f}s")
        lines, s = table(problem, runs)
        body += [*lines, ""]
        won_median = s["amlite Bayesian median"] < s["amlite Random median"]
        beats = won_median and s["amlite Bayesian wins"] * 2 > len(seeds)
        verdicts.append(
            f"{problem.name}: Bayesian {'beats' if beats else 'does NOT beat'} Random "
            f"(median {fmt(s['amlite Bayesian median'])} vs {fmt(s['amlite Random median'])}, "
            f"{s['amlite Bayesian wins']}/{len(seeds)} seeds won); Optuna-direct median "
            f"{fmt(s['Optuna TPE direct median'])} (univariate), "
            f"{fmt(s['Optuna TPE mv direct median'])} (multivariate)"
        )
        over = s["amlite Bayesian p90 ms"] > OVERHEAD_TARGET_MS
        overhead.append(
            f"{problem.name}: amlite Bayesian proposal p50 {s['amlite Bayesian p50 ms']:.1f} ms, "
            f"p90 {s['amlite Bayesian p90 ms']:.1f} ms, at the last trial "
            f"{s['amlite Bayesian last ms']:.1f} ms — "
            + ("ABOVE" if over else "within")
            + f" the {OVERHEAD_TARGET_MS:.0f} ms per-trial controller budget"
        )
    sizes = [50, 200] if args.quick else [50, 100, 200, 500, 1000]
    t0 = time.perf_counter()
    body += [*proposal_scaling(sizes, 3 if args.quick else 7), ""]
    print(f"proposal scaling: {time.perf_counter() - t0:.1f}s")
    elapsed = time.perf_counter() - started
    header = (
        f"## {datetime.now().strftime('%Y-%m-%d %H:%M')} (2 cores; seeds 0-{len(seeds) - 1}; "
        f"optuna {optuna.__version__}; goal Minimize; {elapsed:.0f}s"
        + ("; --quick" if args.quick else "")
        + ")"
    )
    notes = [
        "amlite rows run the controller loop (`propose(index, history)` → f → "
        '`TrialOutcome(..., "complete", value)`); amlite Bayesian keeps an in-memory '
        "Optuna study derived from the history, updated incrementally (TPE, multivariate, "
        "constant liar, 10 startup trials). Peer rows: `optuna.create_study` + "
        "`study.optimize` with "
        "`TPESampler(seed=seed)` (defaults: univariate, 10 startup trials) and with "
        "`multivariate=True` (amlite's settings); their ms figure is Optuna's own time between "
        "two evaluations. Lower is better everywhere; IQR is the 25th to 75th percentile over "
        "seeds; a win is a seed where the row's best-after-N is strictly below amlite Random's.",
        "",
        *[f"- {v}" for v in verdicts],
        *[f"- {o}" for o in overhead],
    ]
    text = "\n".join([header, "", *body, *notes]) + "\n\n"
    print(text)
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with RESULTS.open("a") as f:
            f.write(text)


if __name__ == "__main__":
    main()
