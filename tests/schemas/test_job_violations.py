"""Bad job bodies: each problem is reported at its exact JSON path."""

from __future__ import annotations

from typing import Any

import pytest
from schema_helpers import WS, command_body, sweep_body, targets, violations

from amlite.schemas import parse_job

P = "properties"


def _without(body: dict[str, Any], *path: str) -> dict[str, Any]:
    node = body
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return body


CASES: list[tuple[str, dict[str, Any], set[str]]] = [
    # types
    ("command not a string", command_body(command=42), {f"{P}.command"}),
    (
        "instanceCount a string",
        command_body(compute={"instanceCount": "2"}),
        {f"{P}.compute.instanceCount"},
    ),
    ("priority a float", command_body(priority=1.5), {f"{P}.priority"}),
    ("priority beyond int32", command_body(priority=2**31), {f"{P}.priority"}),
    ("tags values must be strings", command_body(tags={"a": 1}), {f"{P}.tags.a"}),
    ("isLocal not a bool", command_body(compute={"isLocal": "yes"}), {f"{P}.compute.isLocal"}),
    ("body not an object", [], {"body"}),
    ("properties not an object", {"properties": "x"}, {P}),
    # unknown fields, nested too
    ("unknown top-level field", command_body(colour="blue"), {f"{P}.colour"}),
    ("unknown envelope field", {**command_body(), "location": "westus"}, {"location"}),
    (
        "unknown field in a binding",
        command_body(inputDataBindings={"iris": {"dataId": "x", "pathOnDatastore": "a"}}),
        {f"{P}.inputDataBindings.iris.pathOnDatastore"},
    ),
    (
        "unknown field in distribution",
        command_body(distribution={"distributionType": "Mpi", "processCount": 2}),
        {f"{P}.distribution.processCount"},
    ),
    # enums and discriminators
    (
        "bad input mode",
        command_body(inputDataBindings={"iris": {"mode": "Teleport"}}),
        {f"{P}.inputDataBindings.iris.mode"},
    ),
    (
        "bad distribution type",
        command_body(distribution={"distributionType": "Horovod"}),
        {f"{P}.distribution.distributionType"},
    ),
    (
        "missing identity type",
        command_body(identity={"clientId": "x"}),
        {f"{P}.identity.identityType"},
    ),
    ("AutoML job type", command_body(jobType="AutoML"), {f"{P}.jobType"}),
    ("missing job type", _without(command_body(), "properties", "jobType"), {f"{P}.jobType"}),
    # formats
    (
        "bad client uuid",
        command_body(identity={"identityType": "Managed", "clientId": "not-a-uuid"}),
        {f"{P}.identity.clientId"},
    ),
    (
        "bad object uuid",
        command_body(identity={"identityType": "Managed", "objectId": "1234"}),
        {f"{P}.identity.objectId"},
    ),
    # required and patterns
    ("missing command", _without(command_body(), "properties", "command"), {f"{P}.command"}),
    ("command without a word character", command_body(command="$ ."), {f"{P}.command"}),
    ("empty command", command_body(command=""), {f"{P}.command"}),
    ("missing compute", _without(command_body(), "properties", "compute"), {f"{P}.compute"}),
    ("missing properties", {"id": "x"}, {P}),
    # durations
    ("over-precise command timeout", command_body(timeout="PT1.5S"), {f"{P}.timeout"}),
    ("months in timeout", command_body(timeout="P1M"), {f"{P}.timeout"}),
    ("zero timeout", command_body(timeout="PT0S"), {f"{P}.timeout"}),
    ("not a duration", command_body(timeout="1 hour"), {f"{P}.timeout"}),
    # placeholders
    (
        "unknown input placeholder",
        command_body(command="python a.py ${{inputs.nope}}"),
        {f"{P}.command"},
    ),
    (
        "unknown output placeholder",
        command_body(command="python a.py {outputs.nope}"),
        {f"{P}.command"},
    ),
    (
        "search_space in a command job",
        command_body(command="python a.py {search_space.lr}"),
        {f"{P}.command"},
    ),
    # paths
    (
        "absolute pathOnCompute",
        command_body(inputDataBindings={"iris": {"pathOnCompute": "/etc"}}),
        {f"{P}.inputDataBindings.iris.pathOnCompute"},
    ),
    (
        "escaping pathOnCompute",
        command_body(outputDataBindings={"model": {"pathOnCompute": "a/../../b"}}),
        {f"{P}.outputDataBindings.model.pathOnCompute"},
    ),
    (
        "escaping pathOnDatastore",
        command_body(outputDataBindings={"model": {"pathOnDatastore": "../other"}}),
        {f"{P}.outputDataBindings.model.pathOnDatastore"},
    ),
    (
        "absolute pathOnDatastore",
        command_body(outputDataBindings={"model": {"pathOnDatastore": "/root"}}),
        {f"{P}.outputDataBindings.model.pathOnDatastore"},
    ),
    # counts
    ("zero instances", command_body(compute={"instanceCount": 0}), {f"{P}.compute.instanceCount"}),
    (
        "zero processes",
        command_body(distribution={"distributionType": "PyTorch", "processCount": 0}),
        {f"{P}.distribution.processCount"},
    ),
    (
        "fewer processes than nodes",
        command_body(
            compute={"instanceCount": 3},
            distribution={"distributionType": "PyTorch", "processCount": 2},
        ),
        {f"{P}.distribution.processCount"},
    ),
    (
        "zero mpi processes",
        command_body(distribution={"distributionType": "Mpi", "processCountPerInstance": 0}),
        {f"{P}.distribution.processCountPerInstance"},
    ),
    (
        "zero tf workers",
        command_body(distribution={"distributionType": "TensorFlow", "workerCount": 0}),
        {f"{P}.distribution.workerCount"},
    ),
    (
        "negative ps count",
        command_body(distribution={"distributionType": "TensorFlow", "parameterServerCount": -1}),
        {f"{P}.distribution.parameterServerCount"},
    ),
    # sweeps
    ("sweep timeout with seconds", sweep_body(timeout="PT1M30S"), {f"{P}.timeout"}),
    (
        "trial timeout over-precise",
        sweep_body(trial={"command": "python t.py", "timeout": "PT0.5S"}),
        {f"{P}.trial.timeout"},
    ),
    ("missing objective", _without(sweep_body(), "properties", "objective"), {f"{P}.objective"}),
    ("missing trial", _without(sweep_body(), "properties", "trial"), {f"{P}.trial"}),
    (
        "missing search space",
        _without(sweep_body(), "properties", "searchSpace"),
        {f"{P}.searchSpace"},
    ),
    (
        "bad goal",
        sweep_body(objective={"goal": "Maximise", "primaryMetric": "acc"}),
        {f"{P}.objective.goal"},
    ),
    (
        "metric without a word character",
        sweep_body(objective={"goal": "Maximize", "primaryMetric": "--"}),
        {f"{P}.objective.primaryMetric"},
    ),
    ("bad algorithm", sweep_body(algorithm="Hyperband"), {f"{P}.algorithm"}),
    (
        "unknown distribution",
        sweep_body(searchSpace={"lr": ["gamma", [1, 2]], "batch": ["choice", [[1]]]}),
        {f"{P}.searchSpace.lr"},
    ),
    (
        "wrong arity",
        sweep_body(searchSpace={"lr": ["uniform", [1]], "batch": ["choice", [[1]]]}),
        {f"{P}.searchSpace.lr"},
    ),
    (
        "min above max",
        sweep_body(
            searchSpace={
                "lr": {"type": "uniform", "min_value": 2, "max_value": 1},
                "batch": ["choice", [[1]]],
            }
        ),
        {f"{P}.searchSpace.lr"},
    ),
    (
        "zero q",
        sweep_body(searchSpace={"lr": ["quniform", [0, 1, 0]], "batch": ["choice", [[1]]]}),
        {f"{P}.searchSpace.lr"},
    ),
    (
        "negative sigma",
        sweep_body(searchSpace={"lr": ["normal", [0, -1]], "batch": ["choice", [[1]]]}),
        {f"{P}.searchSpace.lr"},
    ),
    (
        "randint zero",
        sweep_body(searchSpace={"lr": ["randint", [0]], "batch": ["choice", [[1]]]}),
        {f"{P}.searchSpace.lr"},
    ),
    (
        "empty choice",
        sweep_body(searchSpace={"lr": ["uniform", [0, 1]], "batch": ["choice", [[]]]}),
        {f"{P}.searchSpace.batch"},
    ),
    (
        "search_space placeholder names nothing",
        sweep_body(trial={"command": "python t.py {search_space.momentum}"}),
        {f"{P}.trial.command"},
    ),
    (
        "trial input placeholder names nothing",
        sweep_body(trial={"command": "python t.py ${{inputs.data}}"}),
        {f"{P}.trial.command"},
    ),
    ("grid with uniform", sweep_body(algorithm="Grid"), {f"{P}.searchSpace.lr"}),
    (
        "bayesian with normal",
        sweep_body(
            algorithm="Bayesian", searchSpace={"lr": ["normal", [0, 1]], "batch": ["choice", [[1]]]}
        ),
        {f"{P}.searchSpace.lr"},
    ),
    (
        "bayesian with loguniform",
        sweep_body(
            algorithm="Bayesian",
            searchSpace={"lr": ["loguniform", [-5, -1]], "batch": ["choice", [[1]]]},
        ),
        {f"{P}.searchSpace.lr"},
    ),
    (
        "bandit with both slacks",
        sweep_body(earlyTermination={"policyType": "Bandit", "slackFactor": 0.1, "slackAmount": 1}),
        {f"{P}.earlyTermination.slackFactor"},
    ),
    (
        "bandit with no slack",
        sweep_body(earlyTermination={"policyType": "Bandit"}),
        {f"{P}.earlyTermination.slackFactor"},
    ),
    (
        "truncation 100%",
        sweep_body(
            earlyTermination={"policyType": "TruncationSelection", "truncationPercentage": 100}
        ),
        {f"{P}.earlyTermination.truncationPercentage"},
    ),
    (
        "truncation 0%",
        sweep_body(
            earlyTermination={"policyType": "TruncationSelection", "truncationPercentage": 0}
        ),
        {f"{P}.earlyTermination.truncationPercentage"},
    ),
    (
        "negative evaluation interval",
        sweep_body(earlyTermination={"policyType": "MedianStopping", "evaluationInterval": -1}),
        {f"{P}.earlyTermination.evaluationInterval"},
    ),
    (
        "negative delay",
        sweep_body(earlyTermination={"policyType": "MedianStopping", "delayEvaluation": -2}),
        {f"{P}.earlyTermination.delayEvaluation"},
    ),
    (
        "unknown policy",
        sweep_body(earlyTermination={"policyType": "Hyperband"}),
        {f"{P}.earlyTermination.policyType"},
    ),
    (
        "slackFactor a string",
        sweep_body(earlyTermination={"policyType": "Bandit", "slackFactor": "0.1"}),
        {f"{P}.earlyTermination.slackFactor"},
    ),
    ("zero total trials", sweep_body(maxTotalTrials=0), {f"{P}.maxTotalTrials"}),
    (
        "negative concurrent trials",
        sweep_body(maxConcurrentTrials=-1),
        {f"{P}.maxConcurrentTrials"},
    ),
    (
        "unknown field in trial",
        sweep_body(trial={"command": "python t.py", "compute": "x"}),
        {f"{P}.trial.compute"},
    ),
    (
        "sweep pytorch fewer processes than nodes",
        sweep_body(
            compute={"instanceCount": 2},
            trial={
                "command": "python t.py",
                "distribution": {"distributionType": "PyTorch", "processCount": 1},
            },
        ),
        {f"{P}.trial.distribution.processCount"},
    ),
]


@pytest.mark.parametrize(
    ("body", "expected"), [(b, t) for _, b, t in CASES], ids=[name for name, _, _ in CASES]
)
def test_violation_targets(body: dict[str, Any], expected: set[str]) -> None:
    assert targets(body) == expected


def test_builders_are_valid() -> None:
    assert parse_job(command_body())["jobType"] == "Command"
    assert parse_job(sweep_body())["jobType"] == "Sweep"


def test_labeling_jobs_are_pointed_elsewhere() -> None:
    [(target, message)] = violations(command_body(jobType="Labeling"))
    assert target == "properties.jobType"
    assert "labelingJobs" in message


def test_unknown_field_message_names_it_as_unknown() -> None:
    [(target, message)] = violations(command_body(compute={"gpus": 2}))
    assert (target, message) == ("properties.compute.gpus", "unknown field")


def test_over_precise_message() -> None:
    [(_, message)] = violations(command_body(timeout="PT0.25S"))
    assert "over-precise" in message


def test_every_problem_is_reported_at_once() -> None:
    body = command_body(
        command=5,
        priority="high",
        compute={"instanceCount": 0, "size": "XL"},
        identity={"identityType": "Managed", "clientId": "nope"},
        inputDataBindings={"iris": {"mode": "teleport", "pathOnCompute": "../x"}},
        timeout="PT1.5S",
    )
    assert targets(body) == {
        "properties.command",
        "properties.priority",
        "properties.compute.instanceCount",
        "properties.compute.size",
        "properties.identity.clientId",
        "properties.inputDataBindings.iris.mode",
        "properties.inputDataBindings.iris.pathOnCompute",
        "properties.timeout",
    }


def test_several_cross_field_problems_are_reported_together() -> None:
    body = sweep_body(
        algorithm="Grid",
        trial={"command": "python t.py {search_space.nope} ${{outputs.none}}"},
    )
    found = violations(body)
    assert [t for t, _ in found] == [
        "properties.searchSpace.lr",
        "properties.trial.command",
        "properties.trial.command",
    ]


def test_valid_paths_and_ids_are_accepted() -> None:
    props = parse_job(
        command_body(
            identity={
                "identityType": "Managed",
                "clientId": "00000000-1111-2222-3333-444444444444",
                "resourceId": f"{WS}/identity",
            },
            inputDataBindings={"iris": {"pathOnCompute": "data/./iris", "mode": "Download"}},
            outputDataBindings={"model": {"pathOnDatastore": "a/../b", "mode": "Upload"}},
        )
    )
    assert props["inputDataBindings"]["iris"]["pathOnCompute"] == "data/./iris"
    assert props["identity"]["identityType"] == "Managed"
