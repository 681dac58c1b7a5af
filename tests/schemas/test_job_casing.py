"""Clients send any casing and echo read-only fields back; responses use spec casing."""

from __future__ import annotations

from schema_helpers import command_body, sweep_body, violations

from amlite.schemas import parse_job


def test_lowercase_enum_values_come_back_in_spec_casing() -> None:
    props = parse_job(
        sweep_body(
            jobType="sweep",
            algorithm="bayesian",
            objective={"goal": "maximize", "primaryMetric": "acc"},
            identity={"identityType": "amltoken"},
            earlyTermination={"policyType": "truncationselection", "truncationPercentage": 20},
            trial={
                "command": "python t.py {search_space.lr} {search_space.batch}",
                "distribution": {"distributionType": "pytorch", "processCount": 2},
                "inputDataBindings": {"d": {"mode": "readonlymount"}},
            },
        )
    )
    assert props["jobType"] == "Sweep"
    assert props["algorithm"] == "Bayesian"
    assert props["objective"]["goal"] == "Maximize"
    assert props["identity"] == {"identityType": "AMLToken"}
    assert props["earlyTermination"]["policyType"] == "TruncationSelection"
    assert props["trial"]["distribution"] == {"distributionType": "PyTorch", "processCount": 2}
    assert props["trial"]["inputDataBindings"]["d"]["mode"] == "ReadOnlyMount"


def test_pascal_case_keys_are_accepted_but_map_keys_kept() -> None:
    body = {
        "Properties": {
            "JobType": "Command",
            "Command": "python a.py ${{inputs.Iris}}",
            "Compute": {"InstanceCount": 2, "Target": "local"},
            "InputDataBindings": {"Iris": {"DataId": "x", "Mode": "DOWNLOAD"}},
            "EnvironmentVariables": {"My_Var": "1"},
            "Tags": {"Team": "ML"},
            "Distribution": {"DistributionType": "MPI", "ProcessCountPerInstance": 2},
        }
    }
    props = parse_job(body)
    assert props["compute"] == {"instanceCount": 2, "target": "local"}
    assert props["inputDataBindings"] == {"Iris": {"dataId": "x", "mode": "Download"}}
    assert props["environmentVariables"] == {"My_Var": "1"}
    assert props["tags"] == {"Team": "ML"}
    assert props["distribution"] == {"distributionType": "Mpi", "processCountPerInstance": 2}


def test_read_only_fields_sent_back_are_ignored() -> None:
    body = command_body(
        status="Running",
        output={"datastoreId": "x", "path": "y"},
        interactionEndpoints={"Studio": {"endpoint": "https://studio"}},
        provisioningState="Succeeded",
        parameters={"a": 1},
    )
    body.update(id="/subscriptions/x/jobs/j", name="j", type="jobs", systemData={"createdBy": "me"})
    props = parse_job(body)
    for field in ("status", "output", "interactionEndpoints", "provisioningState", "parameters"):
        assert field not in props


def test_sweep_read_only_fields_are_ignored_in_any_casing() -> None:
    props = parse_job(sweep_body(Status="Completed", OUTPUT={}))
    assert "status" not in props and "output" not in props


def test_absent_and_null_fields_are_omitted() -> None:
    props = parse_job(command_body(description=None, distribution=None))
    assert "description" not in props and "distribution" not in props


def test_same_field_in_two_casings_is_refused() -> None:
    body = command_body()
    body["properties"]["Command"] = "python other.py"
    assert [t for t, _ in violations(body)] == ["properties.command"]


def test_durations_are_kept() -> None:
    assert parse_job(command_body(timeout="PT1H30M"))["timeout"] == "PT1H30M"
    assert parse_job(sweep_body(timeout="P1DT2H"))["timeout"] == "P1DT2H"


def test_bandit_float_slack_is_a_number() -> None:
    props = parse_job(sweep_body(earlyTermination={"policyType": "bandit", "slackAmount": 1}))
    assert props["earlyTermination"] == {"policyType": "Bandit", "slackAmount": 1.0}
