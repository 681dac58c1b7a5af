"""YAML -> REST rules a user relies on: literals, placeholders, modes, timeouts, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from amlite.schemas.yaml import (
    JobDocumentError,
    load_job_document,
    seconds_to_iso,
    seconds_to_iso_minutes,
)


def write(tmp_path: Path, text: str, name: str = "job.yml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_literal_inputs_are_substituted_and_data_placeholders_kept(tmp_path: Path) -> None:
    doc = load_job_document(
        write(
            tmp_path,
            """
command: run ${{inputs.n}} {inputs.flag} ${{ inputs.s }} ${{inputs.d}} {inputs.d} ${{outputs.o}}
inputs:
  n: 42
  flag: false
  s: "two words"
  d: {type: uri_folder, path: https://example.com/data/}
outputs:
  o:
""",
        )
    )
    props = doc.properties
    assert props["command"] == ("run 42 False two words ${{inputs.d}} {inputs.d} ${{outputs.o}}")
    assert set(props["inputDataBindings"]) == {"d"}
    assert props["outputDataBindings"] == {"o": {}}


@pytest.mark.parametrize(
    ("mode", "wire"),
    [
        ("mount", "ReadOnlyMount"),
        ("ro_mount", "ReadOnlyMount"),
        ("rw_mount", "ReadWriteMount"),
        ("download", "Download"),
        ("direct", "Direct"),
        ("upload", "Upload"),
    ],
)
def test_input_mode_mapping(tmp_path: Path, mode: str, wire: str) -> None:
    doc = load_job_document(
        write(
            tmp_path,
            f"""
command: ls ${{{{inputs.x}}}}
inputs:
  x: {{type: uri_folder, path: azureml:things:3, mode: {mode}}}
""",
        )
    )
    assert doc.properties["inputDataBindings"]["x"]["mode"] == wire


def test_timeouts(tmp_path: Path) -> None:
    assert seconds_to_iso(30) == "PT30S"
    assert seconds_to_iso("PT5M") == "PT5M"
    assert seconds_to_iso_minutes(7200) == "PT120M"
    assert seconds_to_iso_minutes(5) == "PT1M" and seconds_to_iso_minutes(61) == "PT2M"
    doc = load_job_document(write(tmp_path, "command: x\nlimits:\n  timeout: 90\n"))
    assert doc.properties["timeout"] == "PT90S"
    doc = load_job_document(write(tmp_path, "type: command_job\ncommand: x\ntimeout: 45\n"))
    assert doc.properties["timeout"] == "PT45S"


def test_sweep_limits_and_trial_timeout(tmp_path: Path) -> None:
    doc = load_job_document(
        write(
            tmp_path,
            """
type: sweep
trial: {command: "python t.py --lr ${{search_space.lr}}", code: src}
search_space: {lr: {type: uniform, min_value: 0.1, max_value: 0.2}}
objective: {primary_metric: acc, goal: Maximize}
sampling_algorithm: grid
limits: {max_total_trials: 3, max_concurrent_trials: 1, timeout: 600, trial_timeout: 60}
compute: azureml:cluster
""",
        )
    )
    props = doc.properties
    assert props["algorithm"] == "Grid"
    assert (props["maxTotalTrials"], props["maxConcurrentTrials"]) == (3, 1)
    assert props["timeout"] == "PT10M" and props["trial"]["timeout"] == "PT60S"
    assert props["objective"]["goal"] == "Maximize"


def test_every_problem_is_reported_with_its_key(tmp_path: Path) -> None:
    with pytest.raises(JobDocumentError) as info:
        load_job_document(
            write(
                tmp_path,
                """
command: echo ${{inputs.missing}}
colour: blue
inputs:
  x: {type: uri_file, path: a.csv, mode: teleport}
distribution: {type: horovod}
""",
            )
        )
    problems = info.value.problems
    assert "colour: unknown key" in problems
    assert "inputs.x.mode: unknown mode 'teleport'" in problems
    assert any(p.startswith("distribution.type: horovod") for p in problems)
    assert "command: refers to inputs.missing, which is not defined" in problems


def test_unknown_search_space_reference(tmp_path: Path) -> None:
    with pytest.raises(JobDocumentError, match=r"search_space\.nope"):
        load_job_document(
            write(
                tmp_path,
                """
type: sweep
trial: {command: "t ${{search_space.nope}}"}
search_space: {lr: {type: choice, values: [1]}}
objective: {primary_metric: a, goal: minimize}
""",
            )
        )


def test_rest_body_is_used_as_is(tmp_path: Path) -> None:
    body = {
        "properties": {
            "jobType": "Command",
            "command": "echo hi",
            "compute": {"target": "/subscriptions/s/x"},
        }
    }
    doc = load_job_document(write(tmp_path, json.dumps(body), "job.json"))
    assert doc.is_rest_body and doc.body == body and not doc.references


def test_overrides_and_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    path = write(tmp_path / "sub", "command: x\ncode: ../src\ncompute: azureml:a\n")
    doc = load_job_document(path, {"compute": "azureml:b", "inputs.n": 2})
    assert doc.properties["compute"]["target"] == "azureml:b"
    assert doc.uploads[0].local_path == (tmp_path / "src").resolve()


def test_outputs_on_a_datastore(tmp_path: Path) -> None:
    doc = load_job_document(
        write(
            tmp_path,
            """
command: x ${{outputs.o}}
outputs:
  o: {type: uri_folder, mode: upload, path: azureml://datastores/store1/paths/results/run1}
""",
        )
    )
    binding = doc.properties["outputDataBindings"]["o"]
    assert binding["mode"] == "Upload" and binding["pathOnDatastore"] == "results/run1"
    assert ("datastores", "store1") in {(r.kind, r.value) for r in doc.references}


def test_unreadable_or_non_mapping_documents(tmp_path: Path) -> None:
    with pytest.raises(JobDocumentError, match="cannot read"):
        load_job_document(tmp_path / "nope.yml")
    with pytest.raises(JobDocumentError, match="must be a mapping"):
        load_job_document(write(tmp_path, "- a\n- b\n"))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("command: echo hi\nlimits: 30\n", "limits: must be a mapping"),
        (
            "type: sweep\ntrial: {command: echo, limits: 30}\n"
            "search_space: {lr: {type: choice, values: [1]}}\n"
            "objective: {primary_metric: m, goal: maximize}\n",
            "trial.limits: must be a mapping",
        ),
    ],
)
def test_limits_that_are_not_a_mapping_are_reported(
    tmp_path: Path, text: str, problem: str
) -> None:
    with pytest.raises(JobDocumentError, match=problem):
        load_job_document(write(tmp_path, text))
