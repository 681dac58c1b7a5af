"""Terraform AzAPI configurations -> ARM templates: each construct, the reference page's
snippet, and errors that name file:line:column."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from amlite.deployments.terraform import TerraformError, compile_path, load_configuration
from support.armeval import Deferred, evaluate_template
from support.reference_page import snippet

RG = "/subscriptions/s1/resourceGroups/rg1"
WS_ID = f"{RG}/providers/Microsoft.MachineLearningServices/workspaces/ws1"
JOBS = "Microsoft.MachineLearningServices/workspaces/jobs"
JOB_TYPE = f"{JOBS}@2021-03-01-preview"


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def load(tmp_path: Path, text: str, variables: dict[str, Any] | None = None, **more: str) -> Any:
    folder = write(tmp_path / "cfg", {"main.tf": text, **more})
    return load_configuration([folder], variables or {})


def test_reference_page_terraform_snippet_deploys_a_job(tmp_path: Path) -> None:
    text = snippet("terraform").replace(
        'name = "string"', 'name = "job1"\nparent_id = var.workspace_id', 1
    )
    text = 'variable "workspace_id" {\n  type = string\n}\n' + text
    conf = load(tmp_path, text, {"workspace_id": WS_ID})
    [job] = conf.template["resources"]
    assert job["type"] == JOBS
    assert job["apiVersion"] == "2021-03-01-preview"
    assert job["name"] == "ws1/job1"
    props = job["properties"]
    assert props["jobType"] == "Command"
    assert props["distribution"] == {"distributionType": "PyTorch", "processCount": 1}
    assert props["identity"] == {"identityType": "AMLToken"}
    assert props["compute"]["instanceCount"] == 1 and props["compute"]["isLocal"] is False
    assert props["outputDataBindings"]["key1"]["pathOnDatastore"] == "string"
    assert conf.resource_ids == [f"{WS_ID}/jobs/job1"]
    assert conf.resource_group_id == RG
    sweep = snippet("terraform", {"JobBase": "Sweep"}).replace(
        'name = "string"', f'name = "s"\nparent_id = "{WS_ID}"', 1
    )
    [sweep_job] = load(tmp_path / "sweep", sweep).template["resources"]
    assert sweep_job["properties"]["jobType"] == "Sweep"
    assert sweep_job["properties"]["earlyTermination"] == {
        "delayEvaluation": 1,
        "evaluationInterval": 1,
        "policyType": "Bandit",
        "slackAmount": 1,
        "slackFactor": 1,
    }


CONFIG = f"""
variable "workspace_id" {{
  type = string
}}
variable "names" {{
  type    = list(string)
  default = ["a", "b"]
}}
variable "nodes" {{
  type    = number
  default = 1
}}
locals {{
  prefix  = "job-${{lower("X")}}"
  command = <<-EOT
    echo "${{var.nodes}}"
    done
  EOT
}}
resource "azapi_resource" "env" {{
  type      = "Microsoft.MachineLearningServices/workspaces/environments@2021-03-01-preview"
  name      = "env"
  parent_id = var.workspace_id
  body      = jsonencode({{ properties = {{}} }})
}}
resource "azapi_resource" "version" {{
  type      = "Microsoft.MachineLearningServices/workspaces/environments/\
versions@2021-03-01-preview"
  name      = "1"
  parent_id = azapi_resource.env.id
  body      = {{ properties = {{ condaFile = "x" }} }}
}}
resource "azapi_resource" "job" {{
  count     = length(var.names)
  type      = "{JOB_TYPE}"
  name      = "${{local.prefix}}-${{var.names[count.index]}}"
  parent_id = var.workspace_id
  body = jsonencode({{
    properties = {{
      jobType       = "Command"
      command       = "${{local.command}}#${{count.index}} \\"q\\" $${{literal}}"
      environmentId = azapi_resource.version.id
      compute       = {{ target = "local", instanceCount = var.nodes * 2 }}
      tags          = {{ for n in var.names : n => upper(n) if n != "b" }}
    }}
  }})
}}
output "status" {{
  value = azapi_resource.job[0].output.properties.status
}}
output "names" {{
  value = azapi_resource.job[*].name
}}
output "message" {{
  value = "status=${{azapi_resource.job[1].output.properties.status}}"
}}
"""


def test_variables_locals_references_count_and_outputs(tmp_path: Path) -> None:
    conf = load(tmp_path, CONFIG, {"workspace_id": WS_ID, "nodes": "3"})
    env, version, job0, job1 = conf.template["resources"]
    assert env == {
        "type": "Microsoft.MachineLearningServices/workspaces/environments",
        "apiVersion": "2021-03-01-preview",
        "name": "ws1/env",
        "properties": {},
    }
    assert version["name"] == "ws1/env/1"
    assert version["dependsOn"] == [
        "[resourceId('Microsoft.MachineLearningServices/workspaces/environments', 'ws1', 'env')]"
    ]
    assert job0["name"] == "ws1/job-x-a" and job1["name"] == "ws1/job-x-b"
    assert job1["properties"]["command"] == 'echo "3"\ndone\n#1 "q" ${literal}'
    assert job0["properties"]["environmentId"] == f"{WS_ID}/environments/env/versions/1"
    assert job0["properties"]["compute"] == {"target": "local", "instanceCount": 6}
    assert job0["properties"]["tags"] == {"a": "A"}
    assert job0["dependsOn"] == [
        "[resourceId('Microsoft.MachineLearningServices/workspaces/environments/versions', "
        "'ws1', 'env', '1')]"
    ]
    job_ref = f"reference(resourceId('{JOBS}', 'ws1', 'job-x-a'), '2021-03-01-preview', 'Full')"
    assert conf.template["outputs"]["status"] == {
        "type": "string",
        "value": f"[{job_ref}.properties.status]",
    }
    assert conf.template["outputs"]["names"] == {"type": "array", "value": ["job-x-a", "job-x-b"]}
    job1_ref = job_ref.replace("job-x-a", "job-x-b")
    assert (
        conf.template["outputs"]["message"]["value"]
        == f"[concat('status=', {job1_ref}.properties.status)]"
    )
    # creation order: what a resource refers to comes first; --destroy goes in reverse
    assert conf.resource_ids == [
        f"{WS_ID}/environments/env",
        f"{WS_ID}/environments/env/versions/1",
        f"{WS_ID}/jobs/job-x-a",
        f"{WS_ID}/jobs/job-x-b",
    ]
    assert conf.addresses[f"{WS_ID}/jobs/job-x-b"] == "azapi_resource.job[1]"
    assert conf.template["metadata"]["terraform"] == {
        "resourceIds": conf.resource_ids,
        "resourceGroupId": RG,
    }
    assert compile_path(tmp_path / "cfg", {"workspace_id": WS_ID, "nodes": "3"}) == conf.template
    evaluated = evaluate_template(conf.template, {})
    status = evaluated["outputs"]["status"]
    assert isinstance(status, Deferred) and status.path == ("properties", "status")
    assert status.resource_id.endswith("/workspaces/ws1/jobs/job-x-a")


def test_for_each_depends_on_and_existing_data_sources(tmp_path: Path) -> None:
    conf = load(
        tmp_path,
        f"""
data "azapi_resource" "ws" {{
  type      = "Microsoft.MachineLearningServices/workspaces@2021-03-01-preview"
  name      = "ws1"
  parent_id = "{RG}"
}}
resource "azapi_resource" "first" {{
  type      = "{JOB_TYPE}"
  name      = "first"
  parent_id = data.azapi_resource.ws.id
  body      = {{ properties = {{ jobType = "Command", command = "x", \
compute = {{ target = "t" }} }} }}
}}
resource "azapi_resource" "jobs" {{
  for_each   = {{ small = 1, big = 4 }}
  type       = "{JOB_TYPE}"
  name       = "job-${{each.key}}"
  parent_id  = data.azapi_resource.ws.id
  depends_on = [azapi_resource.first]
  body = {{
    properties = {{
      jobType = "Command"
      command = "train --nodes ${{each.value}}"
      compute = {{ target = "t", instanceCount = each.value }}
      description = data.azapi_resource.ws.output.properties.description
    }}
  }}
}}
""",
    )
    first, small, big = conf.template["resources"]
    assert "dependsOn" not in first  # an existing (data) resource is not deployed
    assert small["name"] == "ws1/job-small" and big["properties"]["compute"]["instanceCount"] == 4
    assert small["dependsOn"] == [f"[resourceId('{JOBS}', 'ws1', 'first')]"]
    ws_id = "resourceId('Microsoft.MachineLearningServices/workspaces', 'ws1')"
    ws_ref = f"reference({ws_id}, '2021-03-01-preview', 'Full')"
    assert small["properties"]["description"] == f"[{ws_ref}.properties.description]"
    assert [conf.addresses[i] for i in conf.resource_ids] == [
        "azapi_resource.first",
        'azapi_resource.jobs["small"]',
        'azapi_resource.jobs["big"]',
    ]


def test_variable_sources_and_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = """
variable "a" {
  type = string
}
variable "b" {
  type    = number
  default = 1
}
variable "c" {
  type    = bool
  default = false
}
variable "d" {
  type    = map(string)
  default = {}
}
variable "e" {
  type = string
  default = "x"
  validation {
    condition     = length(var.e) < 5
    error_message = "e is too long."
  }
}
output "all" {
  value = { a = var.a, b = var.b, c = var.c, d = var.d, e = var.e }
}
"""
    folder = write(
        tmp_path / "cfg",
        {
            "main.tf": text,
            "terraform.tfvars": 'a = "from-tfvars"\nb = 2\n',
            "x.auto.tfvars": "b = 3\n",
        },
    )
    extra = write(tmp_path / "vars", {"prod.tfvars": 'c = true\nd = { k = "v" }\n'})
    monkeypatch.setenv("TF_VAR_e", "env")
    conf = load_configuration([folder], {}, [extra / "prod.tfvars"])
    assert conf.template["outputs"]["all"]["value"] == {
        "a": "from-tfvars",
        "b": 3,
        "c": True,
        "d": {"k": "v"},
        "e": "env",
    }
    conf = load_configuration([folder], {"b": "7", "c": "false", "d": '{ z = "1" }', "a": "cli"})
    assert conf.template["outputs"]["all"]["value"] == {
        "a": "cli",
        "b": 7,
        "c": False,
        "d": {"z": "1"},
        "e": "env",
    }
    with pytest.raises(
        TerraformError, match=r"invalid value for the variable 'e': e is too long\."
    ):
        load_configuration([folder], {"e": "toolong"})
    with pytest.raises(TerraformError, match="invalid value for the variable 'b' \\(number\\)"):
        load_configuration([folder], {"b": "many"})
    with pytest.raises(TerraformError, match="the variable 'zzz' is not declared"):
        load_configuration([folder], {"zzz": "1"})
    (folder / "terraform.tfvars").unlink()
    with pytest.raises(TerraformError) as info:
        load_configuration([folder], {})
    assert (
        str(info.value)
        == f"{folder / 'main.tf'}:2:1: no value for the required variable 'a' (use -var a=...)"
    )


HEAD = (
    f'resource "azapi_resource" "j" {{\n  type = "{JOB_TYPE}"\n  name = "j"\n'
    f'  parent_id = "{WS_ID}"\n'
)


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (
            'resource "azurerm_resource_group" "rg" {\n  name = "x"\n}\n',
            "1:1",
            "the resource type 'azurerm_resource_group'",
        ),
        (
            f'resource "azapi_resource" "j" {{\n  type = "{JOB_TYPE}"\n  name = "j"\n'
            f'  parent_id = "{RG}"\n}}\n',
            "4:15",
            "the parent of a Microsoft.MachineLearningServices/workspaces/jobs must be a "
            "Microsoft.MachineLearningServices/workspaces, not a resource group",
        ),
        (
            'locals {\n  a = nosuch(1)\n}\noutput "o" {\n  value = local.a\n}\n',
            "2:7",
            "unknown or unsupported function 'nosuch'",
        ),
        (
            'output "o" {\n  value = var.missing\n}\n',
            "2:11",
            "the variable 'missing' is not declared",
        ),
        (
            'locals {\n  a = local.b\n  b = local.a\n}\noutput "o" {\n  value = local.a\n}\n',
            "",
            "a cycle: local.a -> local.b -> local.a",
        ),
        ('output "o" {\n  value = {\n}\n', "", "syntax error"),
        (
            f"{HEAD}  count = -1\n}}\n",
            "5:11",
            "'count' must be a whole number >= 0, got -1",
        ),
        (
            f"{HEAD}  bodyy = {{}}\n}}\n",
            "5:11",
            "unsupported argument 'bodyy'",
        ),
    ],
)
def test_errors_name_the_place(tmp_path: Path, text: str, where: str, message: str) -> None:
    folder = write(tmp_path / "cfg", {"main.tf": text})
    with pytest.raises(TerraformError) as info:
        load_configuration([folder], {})
    assert message in str(info.value)
    assert str(info.value).startswith(f"{folder / 'main.tf'}:{where}"), str(info.value)
    assert info.value.code == "InvalidTerraformConfiguration"


def test_count_index_in_a_resource_without_count_is_an_error(tmp_path: Path) -> None:
    """Even when `one` is first reached from inside `many[0]` (which has a count)."""
    text = (
        f'resource "azapi_resource" "many" {{\n  count = 2\n  type = "{JOB_TYPE}"\n'
        f'  name = "m${{count.index}}"\n  parent_id = "{WS_ID}"\n'
        "  body = { properties = { command = azapi_resource.one.name } }\n}\n"
        f'resource "azapi_resource" "one" {{\n  type = "{JOB_TYPE}"\n'
        '  name = "one-${count.index}"\n'
        f'  parent_id = "{WS_ID}"\n}}\n'
    )
    with pytest.raises(
        TerraformError, match=r"'count' is only available in a resource with 'count'"
    ) as info:
        load(tmp_path, text)
    assert ":10:" in str(info.value)


def test_unknown_blocks_in_a_resource_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TerraformError, match=r"unsupported block 'bodyblock' in azapi_resource\.j"):
        load(tmp_path, f"{HEAD}  bodyblock {{\n  }}\n}}\n")
    conf = load(tmp_path / "ok", f"{HEAD}  lifecycle {{\n    ignore_changes = [body]\n  }}\n}}\n")
    assert conf.resource_ids == [f"{WS_ID}/jobs/j"]


def test_resources_that_refer_to_each_other_are_a_cycle(tmp_path: Path) -> None:
    body = (
        '{ properties = { jobType = "Command", command = azapi_resource.%s.name, '
        'compute = { target = "t" } } }'
    )
    text = "".join(
        f'resource "azapi_resource" "{me}" {{\n  type = "{JOB_TYPE}"\n  name = "{me}"\n'
        f'  parent_id = "{WS_ID}"\n'
        f"  body = {body % other}\n  depends_on = [azapi_resource.{other}]\n}}\n"
        for me, other in (("a", "b"), ("b", "a"))
    )
    with pytest.raises(
        TerraformError, match=r"cycle: azapi_resource.a -> azapi_resource.b -> azapi_resource.a"
    ):
        load(tmp_path, text)


def test_a_single_file_and_json_string_bodies(tmp_path: Path) -> None:
    folder = write(
        tmp_path / "cfg",
        {
            "job.tf": f'resource "azapi_resource" "j" {{\n  type = "{JOB_TYPE}"\n  name = "j"\n'
            f'  parent_id = "{WS_ID}"\n'
            '  body = "{\\"properties\\": {\\"jobType\\": \\"Command\\"}}"\n}\n',
            "other.tf": "this file is not read",
        },
    )
    conf = load_configuration([folder / "job.tf"], {})
    assert conf.template["resources"][0]["properties"] == {"jobType": "Command"}


@pytest.mark.parametrize(
    "body",
    ["(" * 3000 + "1" + ")" * 3000, "[" * 3000 + "]" * 3000, " + ".join(["1"] * 3000)],
)
def test_hostile_nesting_is_refused_cleanly(tmp_path: Path, body: str) -> None:
    folder = write(tmp_path / "cfg", {"main.tf": f'output "o" {{\n  value = {body}\n}}\n'})
    with pytest.raises(TerraformError, match="expressions are nested too deeply") as info:
        load_configuration([folder], {})
    assert str(info.value).startswith(f"{folder / 'main.tf'}:2:")


def test_mangled_files_fail_only_with_terraform_errors(tmp_path: Path) -> None:
    """Truncations, insertions and deletions of a working configuration (fixed seed): each
    outcome is a template or a TerraformError, never another exception."""
    import random

    rng = random.Random(5)
    main = tmp_path / "main.tf"
    failures = 0
    for _ in range(80):
        i = rng.randrange(len(CONFIG) + 1)
        text = rng.choice(
            [
                CONFIG[:i],
                CONFIG[:i] + rng.choice('{}[]()"\n=.?!:$,/-*|&<>\\%') + CONFIG[i:],
                CONFIG[:i] + CONFIG[i + 3 :],
            ]
        )
        main.write_text(text, encoding="utf-8")
        try:
            load_configuration([main], {"workspace_id": WS_ID})
        except TerraformError as err:
            failures += 1
            assert err.message
    assert failures > 25
