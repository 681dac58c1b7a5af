"""Bayesian sampling: Optuna's TPE through ask/tell on a throw-away in-memory study.

The study lives in memory only and is derived from the history the controller passes (sorted
by index): kept between proposals and brought up to date incrementally, rebuilt from scratch
when it cannot follow (a fresh sampler after a restart), never in Optuna's storages:

* ``complete`` with a finite value -> COMPLETE with that value;
* ``pruned`` (early-terminated) with a value -> PRUNED, the value as its last intermediate
  value (TPE ranks pruned trials below completed ones);
* ``failed``, or any finished trial without a value -> FAIL (TPE ignores these);
* ``running`` -> RUNNING: not told yet; with ``constant_liar`` TPE steers concurrent
  proposals away from points already in flight.

Trials whose parameters no longer fit the space (edited space, foreign values) are left out.
TPE is seeded from (sweep seed, index): the same history gives the same proposal, and two
trials proposed concurrently from the same history still differ.

Distributions: ``choice`` -> categorical over option positions (options may be any JSON
value, including dicts of constants); ``uniform(a, b)`` -> float in [a, b];
``quniform(a, b, q)`` -> integer k in [round(a/q), round(b/q)], value k·q (the same values
Random sampling can produce). Anything else raises ValueError.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeGuard

from amlite.domain.json_value import JsonValue
from amlite.domain.search_space import Choice, Distribution, Nested, Uniform
from amlite.sweep.parameter_values import quantize, stable_int
from amlite.sweep.samplers._base import Sampler, TrialOutcome, normalize_goal

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.trial import FrozenTrial

N_STARTUP_TRIALS = 10


def _optuna() -> Any:
    try:
        import optuna
    except ImportError as exc:  # pragma: no cover - optuna is a declared dependency
        raise ImportError("Bayesian sampling needs optuna: pip install 'optuna>=3.6'") from exc
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


class _Axis:
    """One parameter seen from Optuna: its distribution and the value <-> internal mapping."""

    def __init__(self, name: str, dist: Distribution) -> None:
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        self.name = name
        self.dist = dist
        self.optuna: BaseDistribution
        self.values: list[JsonValue] = []  # choice: the option of each categorical position
        self.k_range = (0, 0)  # quniform: the range of k in value = k * q
        if isinstance(dist, Choice):
            for option in dist.options:
                if isinstance(option, Nested) and any(
                    isinstance(v, Distribution) for v in option.params.values()
                ):
                    raise ValueError(
                        f"Bayesian sampling does not support distributions nested in "
                        f"choice options (parameter {name})"
                    )
            self.values = [_constants(o) if isinstance(o, Nested) else o for o in dist.options]
            self.optuna = CategoricalDistribution(tuple(range(len(self.values))))
        elif isinstance(dist, Uniform) and not dist.log and dist.q is None:
            self.optuna = FloatDistribution(dist.low, dist.high)
        elif isinstance(dist, Uniform) and not dist.log and dist.q is not None:
            self.k_range = (round(dist.low / dist.q), round(dist.high / dist.q))
            self.optuna = IntDistribution(*self.k_range)
        else:
            raise ValueError(
                f"Bayesian sampling supports choice, uniform and quniform, "
                f"got {dist.kind} (parameter {name})"
            )

    def to_value(self, internal: Any) -> JsonValue:
        """The parameter value of an Optuna-side value."""
        if isinstance(self.dist, Choice):
            return self.values[int(internal)]
        if isinstance(self.dist, Uniform) and self.dist.q is not None:
            return quantize(int(internal) * self.dist.q, self.dist.q)
        return float(internal)

    def to_internal(self, value: JsonValue) -> int | float | None:
        """The Optuna-side value of a parameter value, None when it does not fit the space."""
        if isinstance(self.dist, Choice):
            for position, option in enumerate(self.values):
                if _same(option, value):
                    return position
            return None
        if not _is_number(value) or not math.isfinite(value):
            return None
        assert isinstance(self.dist, Uniform)
        if self.dist.q is not None:
            k = round(value / self.dist.q)
            return k if self.k_range[0] <= k <= self.k_range[1] else None
        return float(value) if self.dist.low <= value <= self.dist.high else None


def _constants(option: Nested) -> JsonValue:
    """A nested option that holds constants only, as its value."""
    return {k: v for k, v in option.params.items() if not isinstance(v, Distribution)}


def _same(option: JsonValue, value: JsonValue) -> bool:
    """Equality that keeps ``True`` apart from ``1`` (JSON round trips keep ``1 == 1.0``)."""
    if isinstance(option, bool) or isinstance(value, bool):
        return isinstance(option, bool) and isinstance(value, bool) and option == value
    return bool(option == value)


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


class BayesianSampler(Sampler):
    """Tree-structured Parzen Estimator (Optuna TPE) over choice/uniform/quniform."""

    needs_history = True

    algorithm = "Bayesian"
    supported_kinds = frozenset({"choice", "uniform", "quniform"})

    def __init__(
        self,
        space: Mapping[str, Distribution],
        *,
        seed: int,
        goal: str,
        n_startup_trials: int = N_STARTUP_TRIALS,
    ) -> None:
        super().__init__(space)
        _optuna()
        self.seed = int(seed)
        self.goal = normalize_goal(goal)
        if n_startup_trials < 1:
            raise ValueError(f"n_startup_trials must be at least 1, got {n_startup_trials}")
        self.n_startup_trials = n_startup_trials
        self._axes = [_Axis(name, dist) for name, dist in self.space.items()]
        self._study: Any = None
        self._told: dict[int, tuple[int, str]] = {}
        """Sweep trial index -> (Optuna trial number, the state last told)."""
        self._asked: dict[int, Any] = {}
        """Optuna trial number -> the ``optuna.trial.Trial`` that ``ask`` gave (still running)."""

    def propose(self, index: int, history: Sequence[TrialOutcome]) -> dict[str, JsonValue] | None:
        if index < 0:
            raise ValueError(f"trial index must be >= 0, got {index}")
        optuna = _optuna()
        ordered: list[TrialOutcome] = []
        seen: set[int] = set()
        for outcome in sorted(history, key=lambda o: o.index):
            if outcome.index not in seen and outcome.index != index:
                seen.add(outcome.index)
                ordered.append(outcome)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ExperimentalWarning for multivariate/liar
            if not self._sync(ordered):
                self._study = optuna.create_study(direction=self.goal.lower())
                self._told = {}
                self._asked = {}
                self._sync(ordered)
            assert self._study is not None
            self._study.sampler = optuna.samplers.TPESampler(
                n_startup_trials=self.n_startup_trials,
                multivariate=True,
                constant_liar=True,
                seed=stable_int("amlite.sweep.bayesian", self.seed, index) % 2**32,
            )
            trial = self._study.ask({axis.name: axis.optuna for axis in self._axes})
        self._told[index] = (trial.number, "running")
        self._asked[trial.number] = trial
        return {axis.name: axis.to_value(trial.params[axis.name]) for axis in self._axes}

    def _sync(self, ordered: Sequence[TrialOutcome]) -> bool:
        """Bring the cached study up to ``ordered``: add new trials, tell finished ones.

        Returns False when the cache cannot follow (no study yet, a trial it holds is gone
        from the history or finished differently): the caller rebuilds it from scratch, as
        after a restart. Keeping the study makes a proposal cost what Optuna's ``ask`` costs
        instead of re-adding the whole history each time.
        """
        study = self._study
        if study is None:
            return False
        indices = {o.index for o in ordered}
        if any(i not in indices for i in self._told):
            return False
        for outcome in ordered:
            known = self._told.get(outcome.index)
            if known is None:
                frozen = self._frozen(outcome)
                if frozen is None:
                    self._told[outcome.index] = (-1, outcome.state)
                    continue
                study.add_trial(frozen)
                self._told[outcome.index] = (len(study.trials) - 1, outcome.state)
            elif known[1] != outcome.state:
                if known[1] != "running" or known[0] < 0:
                    return False
                if not self._finish(study, known[0], outcome):
                    return False
                self._told[outcome.index] = (known[0], outcome.state)
        return True

    def _finish(self, study: Any, number: int, outcome: TrialOutcome) -> bool:
        """Tell a trial the study holds as running how it ended (Optuna's public API only).

        False when it cannot: a pruned trial's last value is reported through the ``Trial``
        that ``ask`` gave, and a running trial re-added after a restart has none, so the
        caller rebuilds the study (where ``create_trial`` carries the value).
        """
        from optuna.trial import TrialState

        value = outcome.value
        known = value is not None and math.isfinite(value)
        if outcome.state == "complete" and known:
            study.tell(number, value)
        elif outcome.state == "pruned" and known:
            trial = self._asked.get(number)
            if trial is None:
                return False
            trial.report(value, 1)
            study.tell(trial, state=TrialState.PRUNED)
        elif outcome.state != "running":
            study.tell(number, state=TrialState.FAIL)
        self._asked.pop(number, None)
        return True

    def _frozen(self, outcome: TrialOutcome) -> FrozenTrial | None:
        from optuna.trial import TrialState, create_trial

        params: dict[str, int | float] = {}
        for axis in self._axes:
            if axis.name not in outcome.params:
                return None
            internal = axis.to_internal(outcome.params[axis.name])
            if internal is None:
                return None
            params[axis.name] = internal
        distributions = {axis.name: axis.optuna for axis in self._axes}
        value = outcome.value
        known = value is not None and math.isfinite(value)
        if outcome.state == "complete" and known:
            state, final, intermediate = TrialState.COMPLETE, value, None
        elif outcome.state == "pruned" and known and value is not None:
            state, final, intermediate = TrialState.PRUNED, None, {1: value}
        elif outcome.state == "running":
            state, final, intermediate = TrialState.RUNNING, None, None
        else:
            state, final, intermediate = TrialState.FAIL, None, None
        return create_trial(
            state=state,
            value=final,
            intermediate_values=intermediate,
            params=params,
            distributions=distributions,
        )
