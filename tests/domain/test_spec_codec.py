"""The one codec: a validated job's wire form decodes to its typed spec and encodes back exactly."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from amlite.domain.search_space import Choice, Uniform
from amlite.domain.spec_codec import (
    SpecError,
    decode_early_termination,
    decode_job,
    encode_job,
)
from amlite.domain.specs import (
    BanditTermination,
    CommandJobSpec,
    Compute,
    InputBinding,
    ManagedIdentity,
    Objective,
    OutputBinding,
    PyTorch,
    SweepJobSpec,
    TruncationSelectionTermination,
    Workload,
)
from amlite.errors import ValidationFailed
from amlite.schemas import parse_job, parse_job_spec
from amlite.schemas.yaml import JobDocumentError, load_job_document
from support.shared import CORPUS, SPEC_DIR


def _spec_bodies() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted((SPEC_DIR / "examples").rglob("*.json")):
        body = json.loads(path.read_text()).get("parameters", {}).get("body")
        if isinstance(body, dict) and "jobType" in body.get("properties", {}):
            space = body["properties"].get("searchSpace")
            if space == {"name": {}}:  # the swagger's placeholder names no distribution
                space["name"] = ["choice", [[1, 2]]]
            found.append((path.name, body))
    return found


def _corpus_bodies() -> list[tuple[str, dict[str, Any]]]:
    files = sorted(
        [
            *CORPUS.glob("azureml-examples/cli/jobs/**/*.y*ml"),
            *CORPUS.glob("azureml-v2-preview/examples/**/*.y*ml"),
            *CORPUS.glob("azure-sdk-for-python/**/test_configs/**/*.y*ml"),
        ]
    )
    found = []
    for path in files:
        try:
            doc = load_job_document(path)
        except (JobDocumentError, ValueError):
            continue  # not a job document of this api-version (the CLI corpus test says why)
        found.append((str(path.relative_to(CORPUS)), {"properties": doc.properties}))
    rest = CORPUS / "azureml-examples" / "cli" / "how-to-train-rest.sh.bodies"
    for path in sorted(rest.glob("create_*job.json")):
        text = path.read_text()
        for name in ("$SUBSCRIPTION_ID", "$RESOURCE_GROUP", "$WORKSPACE", "$COMPUTE_NAME"):
            text = text.replace(name, "00000000-1111-2222-3333-444444444444")
        found.append((path.name, json.loads(text)))
    return found


BODIES = _spec_bodies() + _corpus_bodies()


def test_there_are_bodies_of_both_job_types() -> None:
    wires = []
    for _, body in BODIES:
        try:
            wires.append(parse_job(body))
        except ValidationFailed:
            continue
    assert len(wires) >= 40
    assert {w["jobType"] for w in wires} == {"Command", "Sweep"}


@pytest.mark.parametrize("body", [b for _, b in BODIES], ids=[n for n, _ in BODIES])
def test_every_valid_body_round_trips_exactly(body: dict[str, Any]) -> None:
    try:
        wire = parse_job(body)
    except ValidationFailed:
        pytest.skip("refused by the schemas (their tests say why)")
    spec = decode_job(wire)
    # the same JSON text: keys, key order, numbers (1 stays 1, 1.0 stays 1.0)
    assert json.dumps(encode_job(spec)) == json.dumps(wire)
    assert decode_job(encode_job(spec)) == spec
    assert parse_job_spec(body) == spec


def _sweep_wire(**extra: Any) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "jobType": "Sweep",
        "algorithm": "Random",
        "compute": {"instanceCount": 2, "target": "local"},
        "objective": {"goal": "Maximize", "primaryMetric": "acc"},
        "searchSpace": {"lr": ["uniform", [0.01, 0.1]], "opt": ["choice", [["adam", "sgd"]]]},
        "timeout": "PT2H",
        "trial": {
            "command": "python t.py --lr {search_space.lr}",
            "distribution": {"distributionType": "PyTorch", "processCount": 4},
            "inputDataBindings": {"d": {"dataId": "x", "mode": "Download"}},
            "timeout": "PT90S",
        },
    }
    wire.update(extra)
    return wire


def test_a_sweep_decodes_to_typed_fields() -> None:
    spec = decode_job(
        _sweep_wire(
            earlyTermination={"policyType": "Bandit", "slackFactor": 0.1, "delayEvaluation": 2},
            identity={"identityType": "Managed", "clientId": "c"},
        )
    )
    assert isinstance(spec, SweepJobSpec)
    assert spec.objective == Objective("Maximize", "acc")
    assert spec.timeout is not None and spec.timeout.value == timedelta(hours=2)
    assert spec.trial.timeout is not None and spec.trial.timeout.seconds == 90
    assert isinstance(spec.search_space["lr"], Uniform)
    assert isinstance(spec.search_space["opt"], Choice)
    assert spec.early_termination == BanditTermination(delay_evaluation=2, slack_factor=0.1)
    assert spec.identity == ManagedIdentity(client_id="c")
    assert spec.trial.input_data_bindings == {"d": InputBinding(data_id="x", mode="Download")}
    assert spec.workload() == Workload(Compute(instance_count=2, target="local"), PyTorch(4))
    assert spec.compute.nodes == 2


def test_a_command_job_decodes_and_encodes() -> None:
    wire = {
        "description": "d",
        "jobType": "Command",
        "command": "echo hi",
        "compute": {"target": "local"},
        "environmentVariables": {},
        "outputDataBindings": {"o": {"datastoreId": "ds", "pathOnDatastore": "p/"}},
        "priority": 3,
    }
    spec = decode_job(wire)
    assert isinstance(spec, CommandJobSpec)
    assert spec.output_data_bindings == {
        "o": OutputBinding(datastore_id="ds", path_on_datastore="p/")
    }
    assert spec.environment_variables == {}  # an empty map stays a map (the wire keeps it)
    assert spec.compute.nodes == 1 and spec.timeout is None
    assert encode_job(spec) == wire


def test_objective_best_and_better() -> None:
    up, down = Objective("Maximize", "m"), Objective("Minimize", "m")
    assert up.best([1.0, 3.0, 2.0]) == 3.0 and down.best([1.0, 3.0]) == 1.0
    assert up.best([]) is None
    assert up.better(2, 1) and down.better(1, 2) and not up.better(1, 1)


def test_early_termination_decodes_alone() -> None:
    policy = decode_early_termination(
        {"policyType": "TruncationSelection", "truncationPercentage": 20}
    )
    assert policy == TruncationSelectionTermination(truncation_percentage=20)


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        ({"jobType": "Pipeline"}, "jobType: 'Pipeline' is not one of: Command, Sweep"),
        ({"jobType": "Command", "compute": {}}, "command: is required"),
        ({"jobType": "Command", "command": "x", "compute": {"instanceCount": "2"}},
         "compute.instanceCount: must be an integer"),
        ({"jobType": "Command", "command": "x", "compute": {}, "timeout": "P1M"},
         "timeout: 'P1M' uses years or months"),
        (_sweep_wire(timeout="PT90S"), "timeout: 'PT90S' is over-precise"),
        (_sweep_wire(searchSpace={"lr": ["nope", [1]]}), "searchSpace: lr:"),
        (_sweep_wire(earlyTermination={"policyType": "Sometimes"}), "earlyTermination.policyType"),
        (_sweep_wire(trial={"command": "x", "environmentVariables": {"A": 1}}),
         "trial.environmentVariables: must map strings to strings"),
    ],
)  # fmt: skip
def test_a_malformed_stored_spec_names_its_field(wire: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError) as info:
        decode_job(wire)
    assert str(info.value).startswith(message), str(info.value)
