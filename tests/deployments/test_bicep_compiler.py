"""The Bicep compiler, one construct at a time: what ARM JSON each one becomes (the form
``bicep build`` writes) and, through ``support.armeval``, what that JSON evaluates to."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from amlite.deployments.bicep import compile_file, compile_params, load_bicepparam
from support.armeval import Deferred, evaluate_template
from support.reference_page import snippet

JOBS = "Microsoft.MachineLearningServices/workspaces/jobs"
WS = "Microsoft.MachineLearningServices/workspaces"


def build(tmp_path: Path, text: str, files: dict[str, str] | None = None) -> dict[str, Any]:
    for name, content in (files or {}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content, encoding="utf-8")
    main = tmp_path / "main.bicep"
    main.write_text(text, encoding="utf-8")
    return compile_file(main)


def test_parameters_with_every_decorator(tmp_path: Path) -> None:
    t = build(
        tmp_path,
        """
@description('[preview] The workspace')
@minLength(3)
@maxLength(33)
param workspaceName string

@allowed([
  'Command'
  'Sweep'
])
param jobType string = 'Command'

@minValue(1)
@maxValue(10)
@metadata({ unit: 'nodes' })
param instanceCount int = 2

@secure()
param token string

param enabled bool = true
param tags object = { team: 'ml', n: -1 }
param names string[] = [ 'a', 'b' ]
param kind 'Mpi' | 'PyTorch' = 'Mpi'
param other string = '${workspaceName}-x'
""",
    )
    assert t["parameters"] == {
        "workspaceName": {
            "type": "string",
            "minLength": 3,
            "maxLength": 33,
            "metadata": {"description": "[preview] The workspace"},  # metadata is not evaluated
        },
        "jobType": {
            "type": "string",
            "defaultValue": "Command",
            "allowedValues": ["Command", "Sweep"],
        },
        "instanceCount": {
            "type": "int",
            "defaultValue": 2,
            "minValue": 1,
            "maxValue": 10,
            "metadata": {"unit": "nodes"},
        },
        "token": {"type": "securestring"},
        "enabled": {"type": "bool", "defaultValue": True},
        "tags": {"type": "object", "defaultValue": {"team": "ml", "n": -1}},
        "names": {"type": "array", "defaultValue": ["a", "b"]},
        "kind": {"type": "string", "defaultValue": "Mpi", "allowedValues": ["Mpi", "PyTorch"]},
        "other": {
            "type": "string",
            "defaultValue": "[format('{0}-x', parameters('workspaceName'))]",
        },
    }


def test_strings_interpolation_escapes_and_multiline(tmp_path: Path) -> None:
    t = build(
        tmp_path,
        r"""
param name string = 'n'
var a = 'it''s' == 'x' ? 'no' : 'don\'t {literal} \u{41}\n'
var b = '${name}-{0}-${length(name)}'
var c = '[not an expression]'
var d = '''
line one ${not interpolated}
it's raw\n'''
output a string = a
output b string = b
output c string = c
output d string = d
""".replace("'it''s' == 'x'", "true"),
    )
    v = t["variables"]
    assert v["a"] == "[if(true(), 'no', 'don''t {literal} A\n')]"
    assert v["b"] == "[format('{0}-{{0}}-{1}', parameters('name'), length(parameters('name')))]"
    assert v["c"] == "[[not an expression]"
    assert v["d"] == "line one ${not interpolated}\nit's raw\\n"
    out = evaluate_template(t, {})["outputs"]
    assert out == {"a": "no", "b": "n-{0}-1", "c": "[not an expression]", "d": v["d"]}


def test_operators_map_to_arm_functions_and_evaluate(tmp_path: Path) -> None:
    t = build(
        tmp_path,
        """
param x int = 7
param s string = 'Abc'
param o object = { inner: { v: 1 } }
output eq bool = x == 7
output ne bool = x != 7
output logic bool = !(x < 3) && (x >= 7 || false)
output cmp array = [ x > 7, x <= 7 ]
output arith int = (x + 3) * 2 - 10 / 5 % 3
output coalesce string = null ?? s
output insensitive bool = s =~ 'ABC'
output safe object = o.?missing ?? { fallback: true }
output deep int = o.inner.v
output idx string = [ 'a', 'b' ][1]
output safeIdx string = [ 'a' ][?0]
output neg int = -x
""",
    )
    outs = {k: v["value"] for k, v in t["outputs"].items()}
    assert outs["eq"] == "[equals(parameters('x'), 7)]"
    assert outs["ne"] == "[not(equals(parameters('x'), 7))]"
    assert outs["logic"] == (
        "[and(not(less(parameters('x'), 3)), or(greaterOrEquals(parameters('x'), 7), false()))]"
    )
    assert outs["arith"] == "[sub(mul(add(parameters('x'), 3), 2), mod(div(10, 5), 3))]"
    assert outs["coalesce"] == "[coalesce(null(), parameters('s'))]"
    assert outs["insensitive"] == "[equals(toLower(parameters('s')), toLower('ABC'))]"
    assert (
        outs["safe"]
        == "[coalesce(tryGet(parameters('o'), 'missing'), createObject('fallback', true()))]"
    )
    assert outs["idx"] == "[createArray('a', 'b')[1]]"
    assert evaluate_template(t, {})["outputs"] == {
        "eq": True,
        "ne": False,
        "logic": True,
        "cmp": [False, True],
        "arith": 18,
        "coalesce": "Abc",
        "insensitive": True,
        "safe": {"fallback": True},
        "deep": 1,
        "idx": "b",
        "safeIdx": "a",
        "neg": -7,
    }


def test_resource_with_parent_property_access_and_dependencies(tmp_path: Path) -> None:
    t = build(
        tmp_path,
        f"""
param wsName string
resource ws '{WS}@2021-03-01-preview' = {{
  name: wsName
  location: resourceGroup().location
}}
var jobId = job.id
resource job '{JOBS}@2021-03-01-preview' = {{
  parent: ws
  name: 'job-${{wsName}}'
  properties: {{
    jobType: 'Command'
    command: 'echo ${{ws.name}}'
    compute: {{ target: ws.id }}
  }}
}}
output status string = job.properties.status
output id string = jobId
output name string = job.name
output location string = ws.location
""",
    )
    ws, job = t["resources"]
    assert ws == {
        "type": WS,
        "apiVersion": "2021-03-01-preview",
        "name": "[parameters('wsName')]",
        "location": "[resourceGroup().location]",
    }
    job_id = (
        f"resourceId('{JOBS}', parameters('wsName'), format('job-{{0}}', parameters('wsName')))"
    )
    assert job == {
        "type": JOBS,
        "apiVersion": "2021-03-01-preview",
        "name": (
            "[format('{0}/{1}', parameters('wsName'), format('job-{0}', parameters('wsName')))]"
        ),
        "properties": {
            "jobType": "Command",
            "command": "[format('echo {0}', parameters('wsName'))]",
            "compute": {"target": f"[resourceId('{WS}', parameters('wsName'))]"},
        },
        "dependsOn": [f"[resourceId('{WS}', parameters('wsName'))]"],
    }
    assert t["variables"] == {"jobId": f"[{job_id}]"}
    assert t["outputs"]["status"]["value"] == f"[reference({job_id}).status]"
    assert t["outputs"]["name"]["value"] == "[format('job-{0}', parameters('wsName'))]"
    assert (
        t["outputs"]["location"]["value"]
        == f"[reference(resourceId('{WS}', parameters('wsName')), '2021-03-01-preview', "
        "'full').location]"
    )
    ev = evaluate_template(t, {"wsName": "w"})
    assert ev["outputs"]["id"].endswith("/workspaces/w/jobs/job-w")
    assert ev["outputs"]["status"] == Deferred("reference", ev["outputs"]["id"], ("status",))


def test_nested_children_of_an_existing_resource(tmp_path: Path) -> None:
    t = build(
        tmp_path,
        f"""
resource ws '{WS}@2021-03-01-preview' existing = {{
  name: 'w1'
  resource code 'codes' = {{
    name: 'src'
    properties: {{}}
    resource v1 'versions' = {{
      name: '1'
      properties: {{ path: 'x' }}
    }}
  }}
}}
output versionId string = ws::code::v1.id
output wsProps object = ws.properties
""",
    )
    version, code = t["resources"]  # children first, as `bicep build` writes them
    assert code == {
        "type": f"{WS}/codes",
        "apiVersion": "2021-03-01-preview",
        "name": "[format('{0}/{1}', 'w1', 'src')]",
        "properties": {},
    }
    assert version["type"] == f"{WS}/codes/versions"
    assert version["name"] == "[format('{0}/{1}/{2}', 'w1', 'src', '1')]"
    assert version["dependsOn"] == [f"[resourceId('{WS}/codes', 'w1', 'src')]"]
    assert (
        t["outputs"]["versionId"]["value"]
        == f"[resourceId('{WS}/codes/versions', 'w1', 'src', '1')]"
    )
    # an existing resource is read with its api-version, and never depended on
    assert (
        t["outputs"]["wsProps"]["value"]
        == f"[reference(resourceId('{WS}', 'w1'), '2021-03-01-preview')]"
    )
    assert "dependsOn" not in code


def test_slash_names_split_into_resource_id_segments(tmp_path: Path) -> None:
    t = build(
        tmp_path,
        f"""
param ws string
resource job '{JOBS}@2021-03-01-preview' = {{
  name: '${{ws}}/j1'
  properties: {{ jobType: 'Command', command: 'x', compute: {{ target: 't' }} }}
}}
resource literal '{JOBS}@2021-03-01-preview' = {{
  name: 'w/j2'
  properties: {{ jobType: 'Command', command: 'x', compute: {{ target: 't' }} }}
}}
output a string = job.id
output b string = literal.id
""",
    )
    name = "format('{0}/j1', parameters('ws'))"
    assert (
        t["outputs"]["a"]["value"]
        == f"[resourceId('{JOBS}', split({name}, '/')[0], split({name}, '/')[1])]"
    )
    assert t["outputs"]["b"]["value"] == f"[resourceId('{JOBS}', 'w', 'j2')]"


def test_module_becomes_a_nested_deployment_with_inner_scope(tmp_path: Path) -> None:
    module = f"""
param ws string
param count int = 1
resource job '{JOBS}@2021-03-01-preview' = {{
  name: '${{ws}}/inner'
  properties: {{ jobType: 'Command', command: 'echo ${{count}}', compute: {{ target: 't' }} }}
}}
output jobId string = job.id
"""
    t = build(
        tmp_path,
        f"""
param wsName string
resource ws '{WS}@2021-03-01-preview' = {{
  name: wsName
}}
module jobs 'modules/jobs.bicep' = {{
  name: 'jobs-${{wsName}}'
  params: {{
    ws: ws.name
    count: 3
  }}
}}
var fromModule = jobs.outputs.jobId
resource after '{JOBS}@2021-03-01-preview' = {{
  parent: ws
  name: 'after'
  properties: {{ jobType: 'Command', command: fromModule, compute: {{ target: 't' }} }}
}}
""",
        {"modules/jobs.bicep": module},
    )
    assert "variables" not in t  # a runtime value is inlined, as Bicep does
    _, after, mod = t["resources"]  # resources, then modules (as `bicep build`)
    dep_id = (
        "resourceId('Microsoft.Resources/deployments', format('jobs-{0}', parameters('wsName')))"
    )
    assert mod["type"] == "Microsoft.Resources/deployments"
    assert mod["apiVersion"] == "2020-10-01"
    assert mod["name"] == "[format('jobs-{0}', parameters('wsName'))]"
    assert mod["properties"]["expressionEvaluationOptions"] == {"scope": "inner"}
    assert mod["properties"]["mode"] == "Incremental"
    assert mod["properties"]["parameters"] == {
        "ws": {"value": "[parameters('wsName')]"},
        "count": {"value": 3},
    }
    assert mod["properties"]["template"]["parameters"]["count"] == {
        "type": "int",
        "defaultValue": 1,
    }
    assert mod["properties"]["template"]["resources"][0]["properties"]["command"] == (
        "[format('echo {0}', parameters('count'))]"
    )
    assert mod["dependsOn"] == [f"[resourceId('{WS}', parameters('wsName'))]"]
    assert after["properties"]["command"] == f"[reference({dep_id}).outputs.jobId.value]"
    assert sorted(after["dependsOn"]) == sorted(
        [f"[resourceId('{WS}', parameters('wsName'))]", f"[{dep_id}]"]
    )
    ev = evaluate_template(t, {"wsName": "w"})["resources"]
    assert ("microsoft.machinelearningservices/workspaces/jobs", "jobs-w > w/inner") in ev


def test_resource_loops_with_index_filter_and_condition(tmp_path: Path) -> None:
    t = build(
        tmp_path,
        f"""
param names array = [ 'a', 'b', 'c' ]
param deploy bool = true
@batchSize(2)
resource jobs '{JOBS}@2021-03-01-preview' = [for (n, i) in names: {{
  name: 'w/${{n}}'
  properties: {{ jobType: 'Command', command: 'echo ${{i}}', compute: {{ target: 't' }} }}
}}]
resource some '{JOBS}@2021-03-01-preview' = [for n in names: if (n != 'b') {{
  name: 'w/only-${{n}}'
  properties: {{ jobType: 'Command', command: 'x', compute: {{ target: jobs[1].id }} }}
}}]
resource maybe '{JOBS}@2021-03-01-preview' = if (deploy) {{
  name: 'w/maybe'
  properties: {{ jobType: 'Command', command: 'x', compute: {{ target: 't' }} }}
  dependsOn: [ jobs ]
}}
output second string = jobs[1].name
""",
    )
    jobs, some, maybe = t["resources"]
    assert jobs["copy"] == {
        "name": "jobs",
        "count": "[length(parameters('names'))]",
        "mode": "serial",
        "batchSize": 2,
    }
    assert jobs["name"] == "[format('w/{0}', parameters('names')[copyIndex()])]"
    assert jobs["properties"]["command"] == "[format('echo {0}', copyIndex())]"
    assert some["condition"] == "[not(equals(parameters('names')[copyIndex()], 'b'))]"
    second = "format('w/{0}', parameters('names')[1])"
    assert some["dependsOn"] == [
        f"[resourceId('{JOBS}', split({second}, '/')[0], split({second}, '/')[1])]"
    ]
    assert maybe["condition"] == "[parameters('deploy')]"
    assert maybe["dependsOn"] == ["jobs"]  # the whole loop, by its copy name
    assert t["outputs"]["second"]["value"] == "[format('w/{0}', parameters('names')[1])]"
    ev = evaluate_template(t, {})["resources"]
    names = sorted(n for (_, n) in ev)
    assert names == ["w/a", "w/b", "w/c", "w/maybe", "w/only-a", "w/only-c"]
    assert ev[(JOBS.lower(), "w/c")]["properties"]["command"] == "echo 2"
    assert "w/maybe" not in [n for (_, n) in evaluate_template(t, {"deploy": False})["resources"]]


def test_variable_property_and_output_loops(tmp_path: Path) -> None:
    t = build(
        tmp_path,
        f"""
var inputs = [for i in range(0, 3): {{
  name: 'in${{i}}'
  mode: 'Download'
}}]
resource job '{JOBS}@2021-03-01-preview' = {{
  name: 'w/j'
  properties: {{
    jobType: 'Command'
    command: 'x'
    compute: {{ target: 't' }}
    tags: {{ t: 'v' }}
    bindings: [for (b, k) in inputs: {{ id: b.name, pos: k }}]
  }}
}}
output modes array = [for x in inputs: x.mode]
""",
    )
    assert t["variables"]["copy"] == [
        {
            "name": "inputs",
            "count": "[length(range(0, 3))]",
            "input": {
                "name": "[format('in{0}', range(0, 3)[copyIndex('inputs')])]",
                "mode": "Download",
            },
        }
    ]
    props = t["resources"][0]["properties"]
    assert props["copy"] == [
        {
            "name": "bindings",
            "count": "[length(variables('inputs'))]",
            "input": {
                "id": "[variables('inputs')[copyIndex('bindings')].name]",
                "pos": "[copyIndex('bindings')]",
            },
        }
    ]
    assert t["outputs"]["modes"]["copy"] == {
        "count": "[length(variables('inputs'))]",
        "input": "[variables('inputs')[copyIndex()].mode]",
    }
    ev = evaluate_template(t, {})
    [job] = ev["resources"].values()
    assert job["properties"]["bindings"] == [
        {"id": "in0", "pos": 0},
        {"id": "in1", "pos": 1},
        {"id": "in2", "pos": 2},
    ]


def test_load_text_and_json_content_are_inlined(tmp_path: Path) -> None:
    t = build(
        tmp_path,
        f"""
var script = loadTextContent('files/run.sh')
var conf = loadJsonContent('files/conf.json')
var port = loadJsonContent('files/conf.json', '$.server.port')
resource job '{JOBS}@2021-03-01-preview' = {{
  name: 'w/j'
  properties: {{ jobType: 'Command', command: loadTextContent('files/run.sh'), \
compute: conf.compute }}
}}
output p int = port
""",
        {
            "files/run.sh": "echo 'hi'\n[x]\n",
            "files/conf.json": json.dumps({"compute": {"target": "[t]"}, "server": {"port": 80}}),
        },
    )
    v = t["variables"]
    assert v["$fxv#0"] == "echo 'hi'\n[x]\n"
    assert v["$fxv#1"] == {"compute": {"target": "[[t]"}, "server": {"port": 80}}
    assert v["$fxv#2"] == 80
    assert v["script"] == "[variables('$fxv#0')]"
    assert (
        t["resources"][0]["properties"]["command"] == "[variables('$fxv#0')]"
    )  # one copy per file
    ev = evaluate_template(t, {})
    [job] = ev["resources"].values()
    assert job["properties"] == {
        "jobType": "Command",
        "command": "echo 'hi'\n[x]\n",
        "compute": {"target": "[t]"},
    }
    assert ev["outputs"]["p"] == 80


def test_functions_namespaces_any_and_resource_list_calls(tmp_path: Path) -> None:
    t = build(
        tmp_path,
        """
resource sa 'Microsoft.Storage/storageAccounts@2021-04-01' existing = {
  name: 'sa1'
}
output a string = az.resourceGroup().location
output b string = sys.toUpper(any('x'))
output c string = uniqueString(resourceGroup().id, 'x')
output d string = sa.listKeys().keys[0].value
""",
    )
    outs = {k: v["value"] for k, v in t["outputs"].items()}
    assert outs == {
        "a": "[resourceGroup().location]",
        "b": "[toUpper('x')]",
        "c": "[uniqueString(resourceGroup().id, 'x')]",
        "d": (
            "[listKeys(resourceId('Microsoft.Storage/storageAccounts', 'sa1'), '2021-04-01')"
            ".keys[0].value]"
        ),
    }


def test_dependencies_through_variables_and_explicit_depends_on(tmp_path: Path) -> None:
    t = build(
        tmp_path,
        f"""
resource a '{WS}@2021-03-01-preview' = {{
  name: 'a'
}}
resource b '{WS}@2021-03-01-preview' = {{
  name: 'b'
}}
var fromA = {{ target: a.id }}
resource job '{JOBS}@2021-03-01-preview' = {{
  name: 'a/j'
  properties: {{ jobType: 'Command', command: 'x', compute: fromA }}
  dependsOn: [ b ]
}}
""",
    )
    job = t["resources"][2]
    assert job["properties"]["compute"] == "[variables('fromA')]"
    assert job["dependsOn"] == [f"[resourceId('{WS}', 'a')]", f"[resourceId('{WS}', 'b')]"]


def test_reference_page_bicep_snippet_compiles(tmp_path: Path) -> None:
    text = snippet("bicep").replace("name: 'string'", "name: '${workspaceName}/${jobName}'", 1)
    t = build(tmp_path, "param workspaceName string\nparam jobName string\n" + text)
    [job] = t["resources"]
    assert job["type"] == JOBS
    assert job["apiVersion"] == "2021-03-01-preview"
    ev = evaluate_template(t, {"workspaceName": "ws1", "jobName": "job1"})["resources"]
    props = ev[(JOBS.lower(), "ws1/job1")]["properties"]
    assert props["jobType"] == "Command"
    assert props["distribution"] == {"distributionType": "PyTorch", "processCount": 1}
    assert props["identity"] == {"identityType": "AMLToken"}
    assert props["compute"]["instanceCount"] == 1 and props["compute"]["isLocal"] is False
    assert props["inputDataBindings"] == {
        "key1": {"dataId": "string", "mode": "string", "pathOnCompute": "string"}
    }
    assert props["tags"] == {"key1": "string"} and props["priority"] == 1
    sweep = snippet("bicep", {"JobBase": "Sweep"}).replace("name: 'string'", "name: 'w/s'", 1)
    [sweep_job] = build(tmp_path, sweep)["resources"]
    assert sweep_job["properties"]["jobType"] == "Sweep"
    assert sweep_job["properties"]["earlyTermination"]["policyType"] == "Bandit"


def test_bicepparam_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "main.bicep").write_text("param a string\n", encoding="utf-8")
    monkeypatch.setenv("AMLITE_TEST_NODES", "4")
    params = tmp_path / "dev.bicepparam"
    params.write_text(
        "using './main.bicep'\n\n// comment\nparam a = 'x'\n"
        "param b = {\n  list: [ 1, -2 ]\n  on: !false\n}\n"
        "param c = '${a}-y'\nparam d = readEnvironmentVariable('AMLITE_TEST_NODES', '1')\n"
        "param e = readEnvironmentVariable('AMLITE_UNSET_VAR_FOR_TEST', 'dflt')\n",
        encoding="utf-8",
    )
    target, values = load_bicepparam(params)
    assert target == (tmp_path / "main.bicep").resolve()
    assert values == {
        "a": "x",
        "b": {"list": [1, -2], "on": True},
        "c": "x-y",
        "d": "4",
        "e": "dflt",
    }
    assert compile_params(params)["parameters"] == {k: {"value": v} for k, v in values.items()}


def test_existing_resources_in_another_resource_group(tmp_path: Path) -> None:
    t = build(
        tmp_path,
        f"""
param otherRg string
resource ws '{WS}@2021-03-01-preview' existing = {{
  name: 'w1'
  scope: resourceGroup(otherRg)
  resource env 'environments' existing = {{
    name: 'e'
  }}
}}
resource far '{WS}@2021-03-01-preview' existing = {{
  name: 'w2'
  scope: az.resourceGroup('00000000-0000-0000-0000-000000000001', 'rg2')
}}
output envId string = ws::env.id
output farId string = far.id
output latest string = ws::env.properties.latestVersion
""",
    )
    outs = {k: v["value"] for k, v in t["outputs"].items()}
    env_id = f"resourceId(parameters('otherRg'), '{WS}/environments', 'w1', 'e')"
    assert outs["envId"] == f"[{env_id}]"
    assert (
        outs["farId"]
        == f"[resourceId('00000000-0000-0000-0000-000000000001', 'rg2', '{WS}', 'w2')]"
    )
    assert outs["latest"] == f"[reference({env_id}, '2021-03-01-preview').latestVersion]"
    assert t["resources"] == []


def test_module_loops_conditions_and_indexed_outputs(tmp_path: Path) -> None:
    t = build(
        tmp_path,
        """
@batchSize(1)
module m 'mod.bicep' = [for i in range(0, 2): {
  name: 'm${i}'
  params: {
    n: i
  }
}]
module c 'mod.bicep' = if (true) {
  name: 'c'
  params: {
    n: m[1].outputs.doubled
  }
}
output first int = m[0].outputs.doubled
""",
        {"mod.bicep": "param n int\noutput doubled int = n * 2\n"},
    )
    loop, single = t["resources"]
    assert loop["copy"] == {
        "name": "m",
        "count": "[length(range(0, 2))]",
        "mode": "serial",
        "batchSize": 1,
    }
    assert loop["name"] == "[format('m{0}', range(0, 2)[copyIndex()])]"
    assert loop["properties"]["parameters"] == {"n": {"value": "[range(0, 2)[copyIndex()]]"}}
    second = "resourceId('Microsoft.Resources/deployments', format('m{0}', range(0, 2)[1]))"
    assert single["condition"] is True
    assert (
        single["properties"]["parameters"]["n"]["value"]
        == f"[reference({second}).outputs.doubled.value]"
    )
    assert single["dependsOn"] == [f"[{second}]"]
    ev = evaluate_template(t, {})
    assert sorted(n for (_, n) in ev["resources"] if ">" not in n) == ["c", "m0", "m1"]
    assert ev["resources"][("microsoft.resources/deployments", "m1")]["parameters"] == {"n": 1}
    assert ev["outputs"]["first"] == Deferred(
        "reference", ev["outputs"]["first"].resource_id, ("outputs", "doubled", "value")
    )
    assert ev["outputs"]["first"].resource_id.endswith("/deployments/m0")


def test_resources_are_emitted_in_the_real_compilers_order(tmp_path: Path) -> None:
    """As `bicep build` does (Azure/bicep's NestedResources baseline, and the quickstart sweep
    sample's azuredeploy.json): nested resources first, children before their parent, then the
    top-level resources in declaration order, then the modules. The order decides where a
    refused resource's error points (`resources[i]`) and the order amlite deploys in."""
    (tmp_path / "mod.bicep").write_text("output x string = 'x'\n")
    template = build(
        tmp_path,
        """
module first 'mod.bicep' = {
  name: 'first'
}
resource basicParent 'My.Rp/parentType@2020-12-01' = {
  name: 'basicParent'
  resource basicChild 'childType' = {
    name: 'basicChild'
    resource basicGrandchild 'grandchildType' = {
      name: 'basicGrandchild'
    }
  }
  resource basicSibling 'childType' = {
    name: 'basicSibling'
  }
}
resource existingParent 'My.Rp/parentType@2020-12-01' existing = {
  name: 'existingParent'
  resource existingChild 'childType' = {
    name: 'existingChild'
  }
}
resource loopParent 'My.Rp/parentType@2020-12-01' = {
  name: 'loopParent'
}
""",
    )
    names = [r["name"] for r in template["resources"]]
    assert names == [
        "[format('{0}/{1}/{2}', 'basicParent', 'basicChild', 'basicGrandchild')]",
        "[format('{0}/{1}', 'basicParent', 'basicChild')]",
        "[format('{0}/{1}', 'basicParent', 'basicSibling')]",
        "[format('{0}/{1}', 'existingParent', 'existingChild')]",
        "basicParent",
        "loopParent",
        "first",
    ]
