"""Every job YAML of the corpus translates to a REST body, or fails with an intended message."""

from __future__ import annotations

from pathlib import Path

import pytest

from amlite.errors import ValidationFailed
from amlite.schemas import parse_job
from amlite.schemas.yaml import JobDocument, JobDocumentError, load_job_document
from support.shared import CORPUS

FILES = sorted(
    [
        *CORPUS.glob("azureml-examples/cli/jobs/**/*.y*ml"),
        *CORPUS.glob("azureml-v2-preview/examples/**/*.y*ml"),
        *CORPUS.glob("azure-sdk-for-python/**/test_configs/**/*.y*ml"),
    ]
)
EXPECTED_ERRORS = {
    "hello-automl-job-basic.yml": "type: automl jobs are not supported by api-version 2021-03-01",
    "pipeline.yml": "type: pipeline jobs are not supported by api-version 2021-03-01-preview",
    "job.yaml": "identity.type: user_identity is not supported by api-version 2021-03-01",
    "environment.yml": "not a job document",
    "iris_data.yml": "not a job document",
    "xgboost_conda.yml": "not a job document",
    "xgboost_env.yml": "not a job document",
}

assert FILES, f"no corpus YAML under {CORPUS}"


def _load(name: str) -> JobDocument:
    matches = [f for f in FILES if f.as_posix().endswith(name)]
    assert len(matches) == 1, name
    return load_job_document(matches[0])


@pytest.mark.parametrize("path", FILES, ids=[str(f.relative_to(CORPUS)) for f in FILES])
def test_every_corpus_yaml_translates_or_fails_clearly(path: Path) -> None:
    expected = EXPECTED_ERRORS.get(path.name)
    if expected:
        with pytest.raises(JobDocumentError) as info:
            load_job_document(path)
        assert any(p.startswith(expected) for p in info.value.problems), info.value.problems
        return
    doc = load_job_document(path)
    props = doc.properties
    assert props["jobType"] in ("Command", "Sweep")
    assert props["compute"]["target"]
    command = props["command"] if props["jobType"] == "Command" else props["trial"]["command"]
    assert command.strip()
    targets = {r.target for r in doc.references}
    assert ("properties", "compute", "target") in targets


def test_2021_command_job_with_code_mount_and_inline_env() -> None:
    doc = _load("cli/jobs/train/lightgbm/iris/job.yml")
    props = doc.properties
    assert props["command"].strip() == "python main.py  --iris-csv {inputs.iris}"
    assert props["inputDataBindings"]["iris"]["mode"] == "ReadOnlyMount"
    assert [r.path for r in doc.remote_data] == [
        "https://azuremlexamples.blob.core.windows.net/datasets/iris.csv"
    ]
    assert doc.uploads[0].kind == "codes" and doc.uploads[0].local_path.name == "src"
    env = doc.environments[0]
    assert env.image == "mcr.microsoft.com/azureml/openmpi3.1.2-ubuntu18.04"
    assert env.conda_file is not None and env.conda_file.name == "environment.yml"
    assert props["compute"]["target"] == "azureml:cpu-cluster"
    assert props["experimentName"] == "lightgbm-iris-example"


def test_2021_sweep_moves_trial_compute_to_the_top_and_timeout_minutes() -> None:
    props = _load("cli/jobs/train/lightgbm/iris/job-sweep.yml").properties
    assert props["algorithm"] == "Random"
    assert props["objective"] == {"primaryMetric": "test-multi_logloss", "goal": "Minimize"}
    assert props["maxTotalTrials"] == 20 and props["maxConcurrentTrials"] == 10
    assert props["timeout"] == "PT120M"
    assert props["compute"]["target"] == "azureml:cpu-cluster"
    assert "compute" not in props["trial"]
    assert "{search_space.learning_rate}" in props["trial"]["command"]
    assert props["trial"]["inputDataBindings"]["iris"]["mode"] == "ReadOnlyMount"
    assert props["searchSpace"]["boosting"] == {"type": "choice", "values": ["gbdt", "dart"]}


def test_current_sweep_with_sweep_level_literal_input() -> None:
    props = _load("cli/jobs/basics/hello-sweep.yml").properties
    assert "--A 0.5" in props["trial"]["command"]
    assert "${{search_space.B}}" in props["trial"]["command"]
    assert props["timeout"] == "PT60M"
    assert props["properties"]["display_name"] == "hello-sweep-example"


def test_truncation_policy_of_the_2021_preview() -> None:
    props = _load("azureml-v2-preview/examples/sweep/sweepjob.yml").properties
    assert props["earlyTermination"] == {
        "policyType": "TruncationSelection",
        "evaluationInterval": 100,
        "delayEvaluation": 200,
        "truncationPercentage": 40,
    }
    assert props["timeout"] == "PT10000M"


def test_bandit_policy_and_code_reference() -> None:
    doc = _load("sweep_job/sweep-bandit.yaml")
    assert doc.properties["earlyTermination"]["policyType"] == "Bandit"
    assert doc.properties["earlyTermination"]["slackFactor"] == 40
    assert doc.name == "test_v3111"
    kinds = {(r.kind, r.value) for r in doc.references}
    assert ("codes", "azureml:testCode:1") in kinds


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "cli/jobs/train/pytorch/cifar-distributed/job.yml",
            ({"distributionType": "PyTorch", "processCount": 4}, 2),
        ),
        (
            "cli/jobs/single-step/pytorch/cifar-distributed/job.yml",
            ({"distributionType": "PyTorch", "processCount": 2}, 2),
        ),
        (
            "cli/jobs/train/tensorflow/mnist-distributed-horovod/job.yml",
            ({"distributionType": "Mpi", "processCountPerInstance": 2}, 2),
        ),
        (
            "command_job/dist_job_3.yml",
            ({"distributionType": "TensorFlow", "workerCount": 3, "parameterServerCount": 3}, 2),
        ),
        ("dask/dask-job.yaml", ({"distributionType": "PyTorch"}, 4)),
    ],
)
def test_distribution(name: str, expected: tuple[dict[str, int | str], int]) -> None:
    props = _load(name).properties
    assert props["distribution"] == expected[0]
    assert props["compute"]["instanceCount"] == expected[1]


def test_identity_and_null_tags() -> None:
    props = _load("command_job/command_job_test_msi_identity.yml").properties
    assert props["identity"] == {
        "identityType": "Managed",
        "clientId": "4e0f6e81-e0e0-4c63-a64e-e916c48c177e",
    }
    props = _load("command_job/command_job_test.yml").properties
    assert props["identity"] == {"identityType": "AMLToken"}
    assert props["tags"] == {"empty_tag": ""}
    assert props["properties"]["display_name"] == "test_display_name"


def test_current_inputs_datastore_uri_latest_and_modes() -> None:
    doc = _load("cli/jobs/basics/hello-iris-datastore-file.yml")
    assert [(r.datastore, r.path) for r in doc.remote_data] == [
        ("workspaceblobstore", "example-data/iris.csv")
    ]
    doc = _load("cli/jobs/basics/hello-data-uri-folder.yml")
    assert doc.properties["inputDataBindings"]["sampledata"]["mode"] == "ReadOnlyMount"
    assert ("data", "azureml:local-folder-example@latest") in {
        (r.kind, r.value) for r in doc.references
    }
    doc = _load("cli/jobs/basics/hello-world.yml")
    assert doc.is_local and doc.properties["compute"]["target"] == "local"


SERVER_REFUSES = {
    # the SDK's own negative test: grid sampling over a uniform parameter
    "sweep_job_grid_sampling_algorithm_string.yml": "properties.searchSpace",
    # gives both slack_factor and slack_amount: Bandit takes exactly one
    "sweep-bandit.yaml": "properties.earlyTermination",
}


@pytest.mark.parametrize("path", FILES, ids=[str(f.relative_to(CORPUS)) for f in FILES])
def test_every_translated_corpus_document_passes_server_validation(path: Path) -> None:
    """The body the CLI would send is valid for the server's wire models (references are
    resolved later, against the workspace)."""
    if path.name in EXPECTED_ERRORS:
        return
    body = {"properties": load_job_document(path).properties}
    refused = SERVER_REFUSES.get(path.name)
    if refused is None:
        parse_job(body)
        return
    with pytest.raises(ValidationFailed) as info:
        parse_job(body)
    assert any(v.target.startswith(refused) for v in info.value.violations)
