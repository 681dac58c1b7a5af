"""Sweep settings: sampling algorithm names, objective, early termination policy, limits."""

from __future__ import annotations

from typing import Any

from amlite.domain.json_value import JsonObject
from amlite.schemas.yaml.base import TranslatorBase, YamlMapping, whole_number
from amlite.schemas.yaml.document import set_at

_ALGORITHMS = {"random": "Random", "grid": "Grid", "bayesian": "Bayesian"}
_POLICIES = {
    "bandit": "Bandit",
    "median_stopping": "MedianStopping",
    "medianstopping": "MedianStopping",
    "truncation_selection": "TruncationSelection",
    "truncationselection": "TruncationSelection",
}
_GOALS = {"maximize": "Maximize", "minimize": "Minimize"}


class SweepMixin(TranslatorBase):
    """Translates a sweep's objective, early termination and limits."""

    def _objective(self, value: Any) -> JsonObject:
        if not isinstance(value, dict):
            self.problems.append("objective: required (primary_metric and goal)")
            return {}
        self._unknown(value, {"primary_metric", "goal"}, "objective.")
        goal = _GOALS.get(str(value.get("goal") or "").lower())
        if goal is None:
            self.problems.append(
                f"objective.goal: {value.get('goal')!r}; expected maximize or minimize"
            )
        if not value.get("primary_metric"):
            self.problems.append("objective.primary_metric: required")
        return {"primaryMetric": str(value.get("primary_metric") or ""), "goal": goal or ""}

    def _policy(self, value: Any) -> JsonObject:
        if not isinstance(value, dict):
            self.problems.append("early_termination: must be a mapping")
            return {}
        kind = str(value.get("type") or value.get("policy_type") or "").lower()
        policy = _POLICIES.get(kind)
        if policy is None:
            self.problems.append(
                f"early_termination.type: {kind or 'missing'}; expected bandit, "
                "median_stopping or truncation_selection"
            )
            return {}
        allowed = {"type", "policy_type", "evaluation_interval", "delay_evaluation"}
        allowed |= {
            "Bandit": {"slack_factor", "slack_amount"},
            "MedianStopping": set(),
            "TruncationSelection": {"truncation_percentage", "exclude_finished_jobs"},
        }[policy]
        self._unknown(value, allowed, "early_termination.")
        out: JsonObject = {"policyType": policy}
        for key, wire in (
            ("evaluation_interval", "evaluationInterval"),
            ("delay_evaluation", "delayEvaluation"),
            ("slack_factor", "slackFactor"),
            ("slack_amount", "slackAmount"),
            ("truncation_percentage", "truncationPercentage"),
        ):
            if value.get(key) is not None:
                out[wire] = value[key]
        return out

    def _limits(self, raw: YamlMapping, props: JsonObject) -> None:
        limits = raw.get("limits") or {}
        if not isinstance(limits, dict):
            self.problems.append("limits: must be a mapping")
            limits = {}
        self._unknown(
            limits,
            {"max_total_trials", "max_concurrent_trials", "timeout", "trial_timeout"},
            "limits.",
        )
        for key, wire in (
            ("max_total_trials", "maxTotalTrials"),
            ("max_concurrent_trials", "maxConcurrentTrials"),
        ):
            got = limits.get(key, raw.get(key))
            if got is not None:
                props[wire] = int(got)
        minutes = raw.get("timeout_minutes")
        if minutes is not None:
            props["timeout"] = f"PT{whole_number(minutes)}M"
        elif limits.get("timeout", raw.get("timeout")) is not None:
            # a sweep's timeout has minute precision on the wire: round seconds up
            props["timeout"] = self._minutes(
                limits.get("timeout", raw.get("timeout")), "limits.timeout"
            )
        if limits.get("trial_timeout") is not None:
            timeout = self._seconds(limits["trial_timeout"], "limits.trial_timeout")
            set_at(self.doc.body, ("properties", "trial", "timeout"), timeout)
