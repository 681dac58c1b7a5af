"""The template language: parser, functions (with Azure's hashes), evaluator."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from amlite.deployments.template import expressions as ex
from amlite.deployments.template.errors import ParameterError, TemplateError
from amlite.deployments.template.evaluator import Evaluation, Scope
from amlite.deployments.template.hashing import arm_guid, murmur64, unique_string

SCOPE = Scope("00000000-0000-0000-0000-000000000000", "rg1", "dep1")
JOBS = "Microsoft.MachineLearningServices/workspaces/jobs"
WS = "Microsoft.MachineLearningServices/workspaces"


def value(expr: Any, parameters: dict[str, Any] | None = None, **template: Any) -> Any:
    tpl = {"resources": [], "outputs": {"o": {"type": "object", "value": {"v": expr}}}, **template}
    return Evaluation(tpl, parameters, SCOPE).outputs()["o"]["value"]["v"]


# -- hashes, against published values ----------------------------------------------------------
# Each uniqueString vector says where it was published. The ones marked "Microsoft's library"
# were computed with Azure.Deployments.Expression, the package ARM and Bicep use.
UNIQUE_STRING_VECTORS = [
    # takekazuomi/arm-uniquestring README.md: `uniqueString test` run through
    # Azure.Deployments.Expression (Microsoft's library)
    (("test",), "rbgf3xv4ufgzg"),
    # Azure/terraform-provider-azapi, internal/services/functions/unique_string_function_test.go
    # (Microsoft's AzAPI provider: "an Azure equivalent uniqueString value")
    (("/subscriptions/00000000-0000-0000-0000-000000000000", "resource-id"), "cwvxuqg24sifi"),
    # microsoft/commercial-marketplace-offer-deploy, ArmFunctionsTests.cs (Modm.Tests.UnitTests):
    # Microsoft's library against a value from an ARM template output (an earlier revision of
    # that test expected "yeygmhukyx3qg" and was corrected to this one)
    (
        (
            "/subscriptions/31e9f9a0-9fd2-4294-a0a3-0101246d9700/resourceGroups/"
            "rg-modm201-20230913120256/providers/Microsoft.Compute/virtualMachines/bobjacmodm201",
        ),
        "yvjxno3je5on2",
    ),
    # JasonWhall/go-azure-uniquestring README.md (reverse-engineered from
    # Azure.Deployments.Expression); also its hash, checked below
    (("hello", "world"), "a7wkljktk6wne"),
    # a bash port's self-test ("verified against Bicep uniqueString() output"), third party
    (("abc",), "cgtzqvhu4i23s"),
    (
        ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/my-rg",),
        "bmg7c6xu4tw46",
    ),
    (("foo", "bar", "baz"), "xzi4ioaxtmth4"),
]


@pytest.mark.parametrize(("args", "expected"), UNIQUE_STRING_VECTORS)
def test_unique_string_matches_azure(args: tuple[str, ...], expected: str) -> None:
    assert unique_string(*args) == expected
    quoted = ", ".join(f"'{a}'" for a in args)
    assert value(f"[uniqueString({quoted})]") == expected


def test_the_murmur_hash_under_unique_string() -> None:
    # JasonWhall/go-azure-uniquestring README.md: "hello-world" hashes to 571013382255652050
    assert murmur64(b"hello-world") == 571013382255652050


def test_guid_is_a_v5_uuid_of_the_hyphen_joined_arguments() -> None:
    """No published input -> output pair computed by Azure was found for guid(); this checks
    the algorithm Microsoft documents (RFC 4122 section 4.3 name-based UUID, the arguments
    joined with '-', under the ARM namespace) rather than claiming equality with Azure."""
    got = arm_guid("a", "b", "c")
    assert got == str(uuid.uuid5(uuid.UUID("11fb06fb-712d-4ddd-98c7-e71bbd588830"), "a-b-c"))
    assert uuid.UUID(got).version == 5
    assert value("[guid('a', 'b', 'c')]") == got
    assert arm_guid("a", "b") != arm_guid("ab")


# -- parser -------------------------------------------------------------------------------------
def test_parser_builds_calls_members_and_indexes() -> None:
    text = "[concat('it''s', parameters('x').a[0], -1)]"
    node = ex.parse(text)
    assert isinstance(node, ex.Call) and node.name == "concat"
    assert node.args[0] == ex.Literal("it's", 8)
    assert isinstance(node.args[1], ex.Index)
    assert isinstance(node.args[1].target, ex.Member)
    assert node.args[2] == ex.Literal(-1, text.index("-1"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[concat('a'", None),  # not an expression: a literal
        ("[concat('a']", "expected ')' but found the end of the expression at position 11"),
        ("[concat('a)]", "unterminated string literal at position 8"),
        ("[foo]", "'foo' must be called as a function"),
        (
            "[concat(1,)]",
            "expected a function call, a string or a number but found ')' at position 10",
        ),
        ("[]", "empty expression"),
    ],
)
def test_parser_errors_say_where(text: str, message: str | None) -> None:
    if message is None:
        assert not ex.is_expression(text)
        return
    with pytest.raises(TemplateError) as err:
        ex.parse(text)
    assert message in str(err.value)


def test_double_bracket_escapes_a_literal() -> None:
    assert value("[[not an expression]") == "[not an expression]"


# -- functions ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("[concat('a', 1, 'b')]", "a1b"),
        ("[concat(createArray(1), createArray(2, 3))]", [1, 2, 3]),
        ("[format('{0}-{1:D3}-{{x}}', 'a', 7)]", "a-007-{x}"),
        ("[string(createObject('a', 1))]", '{"a":1}'),
        ("[string(true())]", "True"),
        ("[int('42')]", 42),
        ("[bool('TRUE')]", True),
        ("[json('{\"a\": [1]}').a[0]]", 1),
        ("[if(equals(1, 1), 'yes', fail())]", "yes"),
        ("[and(true(), not(false()))]", True),
        ("[or(false(), false())]", False),
        ("[coalesce(null(), 'x')]", "x"),
        ("[empty('')]", True),
        ("[length(createArray(1, 2))]", 2),
        ("[contains('abc', 'b')]", True),
        ("[contains(createObject('Key', 1), 'key')]", True),
        ("[first('abc')]", "a"),
        ("[last(createArray(1, 2))]", 2),
        ("[union(createObject('a', 1), createObject('b', 2))]", {"a": 1, "b": 2}),
        ("[range(2, 3)]", [2, 3, 4]),
        ("[split('a,b;c', createArray(',', ';'))]", ["a", "b", "c"]),
        ("[join(createArray('a', 'b'), '-')]", "a-b"),
        ("[replace('aXbX', 'X', '.')]", "a.b."),
        ("[toLower('AbC')]", "abc"),
        ("[toUpper('AbC')]", "ABC"),
        ("[substring('hello', 1, 3)]", "ell"),
        ("[startsWith('Hello', 'he')]", True),
        ("[endsWith('Hello', 'LO')]", True),
        ("[trim('  x ')]", "x"),
        ("[items(createObject('b', 2, 'a', 1))[0].key]", "a"),
        ("[tryGet(createObject('a', createObject('b', 1)), 'a', 'b')]", 1),
        ("[tryGet(createObject('a', 1), 'zz')]", None),
        ("[createObject('Name', 'x').name]", "x"),
        ("[div(-7, 2)]", -3),
        ("[mod(-7, 2)]", -1),
        ("[resourceGroup().name]", "rg1"),
        ("[subscription().subscriptionId]", SCOPE.subscription_id),
        ("[deployment().name]", "dep1"),
        (
            "[resourceId('Microsoft.MachineLearningServices/workspaces/jobs', 'ws', 'j')]",
            f"/subscriptions/{SCOPE.subscription_id}/resourceGroups/rg1/providers/"
            "Microsoft.MachineLearningServices/workspaces/ws/jobs/j",
        ),
        (
            "[resourceId('other', 'Microsoft.X/things', 'n')]",
            f"/subscriptions/{SCOPE.subscription_id}/resourceGroups/other/providers/Microsoft.X/things/n",
        ),
        (
            "[subscriptionResourceId('Microsoft.X/things', 'n')]",
            f"/subscriptions/{SCOPE.subscription_id}/providers/Microsoft.X/things/n",
        ),
        (
            "[extensionResourceId('/scope', 'Microsoft.X/things', 'n')]",
            "/scope/providers/Microsoft.X/things/n",
        ),
    ],
)
def test_functions(expr: str, expected: Any) -> None:
    assert value(expr) == expected


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("[concat('a', nosuch(1))]", "unknown function 'nosuch' at position 13"),
        ("[listKeys('x', '2020-01-01')]", "listKeys() reads secrets"),
        ("[utcNow()]", "utcNow() can only be used in a parameter's defaultValue"),
        ("[substring('abc', 2, 5)]", "outside the string"),
        ("[createArray(1)[3]]", "index 3 is out of range"),
        ("[createObject('a', 1).b]", "has no property 'b'"),
        ("[int('x')]", "cannot convert 'x'"),
        ("[copyIndex()]", "only allowed inside a copy loop"),
    ],
)
def test_function_errors_name_function_and_position(expr: str, message: str) -> None:
    with pytest.raises(TemplateError) as err:
        value(expr)
    assert message in str(err.value)
    assert expr in str(err.value)
    assert err.value.path == "outputs.o.value.v"


# -- parameters -----------------------------------------------------------------------------------
def test_parameters_types_defaults_and_constraints() -> None:
    params = {
        "name": {"type": "string", "minLength": 2, "maxLength": 5, "defaultValue": "abc"},
        "count": {"type": "int", "minValue": 1, "maxValue": 3, "defaultValue": 2},
        "size": {"type": "string", "allowedValues": ["S", "M"], "defaultValue": "S"},
        "when": {"type": "string", "defaultValue": "[utcNow('yyyy')]"},
        "derived": {"type": "string", "defaultValue": "[concat(parameters('name'), '-x')]"},
    }
    ev = Evaluation({"parameters": params, "resources": []}, {"count": {"value": 3}}, SCOPE)
    assert ev.parameter("count") == 3
    assert ev.parameter("derived") == "abc-x"
    assert len(ev.parameter("when")) == 4
    for supplied, message in [
        (
            {"count": {"value": "3"}},
            "expected a value of type 'int', but received a value of type 'String'",
        ),
        ({"count": {"value": 9}}, "above its maxValue 3"),
        ({"name": {"value": "a"}}, "below its minLength 2"),
        ({"size": {"value": "XL"}}, "not part of the allowed values"),
        ({"nope": {"value": 1}}, "'nope' are not declared"),
        ({"count": 3}, 'must be given as {"value": ...}'),
    ]:
        with pytest.raises(ParameterError) as err:
            Evaluation({"parameters": params, "resources": []}, supplied, SCOPE)
        assert message in str(err.value), str(err.value)


def test_missing_required_parameter() -> None:
    with pytest.raises(ParameterError) as err:
        Evaluation({"parameters": {"ws": {"type": "string"}}, "resources": []}, {}, SCOPE)
    assert "the value for the template parameter 'ws' is not provided" in str(err.value)
    assert err.value.path == "parameters.ws"


def test_secure_parameters_are_known() -> None:
    ev = Evaluation(
        {"parameters": {"pw": {"type": "secureString"}}, "resources": []},
        {"pw": {"value": "hunter2"}},
        SCOPE,
    )
    assert ev.secure_parameters() == {"pw"}
    with pytest.raises(ParameterError) as err:
        Evaluation(
            {
                "parameters": {"pw": {"type": "secureString", "allowedValues": ["a"]}},
                "resources": [],
            },
            {"pw": {"value": "hunter2"}},
            SCOPE,
        )
    assert "hunter2" not in str(err.value)


# -- variables ------------------------------------------------------------------------------------
def test_variables_with_copy_and_cycles() -> None:
    tpl = {
        "variables": {
            "base": "x",
            "copy": [
                {
                    "name": "names",
                    "count": 3,
                    "input": "[concat(variables('base'), copyIndex('names', 1))]",
                }
            ],
            "obj": {
                "copy": [{"name": "disks", "count": 2, "input": {"lun": "[copyIndex('disks')]"}}]
            },
        },
    }
    assert value("[variables('names')]", **tpl) == ["x1", "x2", "x3"]
    assert value("[variables('obj')]", **tpl) == {"disks": [{"lun": 0}, {"lun": 1}]}
    cyclic = {"variables": {"a": "[variables('b')]", "b": "[variables('a')]"}}
    with pytest.raises(TemplateError) as err:
        value("[variables('a')]", **cyclic)
    assert "circular reference: variable 'a' -> variable 'b' -> variable 'a'" in str(err.value)


# -- resources ------------------------------------------------------------------------------------
def job(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": JOBS,
        "apiVersion": "2021-03-01-preview",
        "name": name,
        "properties": {},
        **extra,
    }


def test_dependencies_order_resources_and_cycles_are_named() -> None:
    tpl = {
        "resources": [
            job("ws/b", dependsOn=["ws/a"]),
            job("ws/a", dependsOn=[f"[resourceId('{WS}', 'ws')]"]),
            {"type": WS, "apiVersion": "2021-03-01-preview", "name": "ws", "properties": {}},
        ]
    }
    order = [i.name for i in Evaluation(tpl, None, SCOPE).order]
    assert order == ["ws", "ws/a", "ws/b"]
    cyclic = {"resources": [job("ws/a", dependsOn=["ws/b"]), job("ws/b", dependsOn=["ws/a"])]}
    with pytest.raises(TemplateError) as err:
        Evaluation(cyclic, None, SCOPE)
    assert (
        "circular dependency between resources: jobs 'ws/a' -> jobs 'ws/b' -> jobs 'ws/a'"
        in str(err.value)
    )


def test_copy_loops_serial_and_counts() -> None:
    tpl = {
        "resources": [
            job(
                "[concat('ws/j', copyIndex(1))]",
                copy={"name": "loop", "count": 4, "mode": "serial", "batchSize": 2},
            )
        ]
    }
    ev = Evaluation(tpl, None, SCOPE)
    names = {i.key: i.name for i in ev.order}
    assert [i.name for i in ev.order] == ["ws/j1", "ws/j2", "ws/j3", "ws/j4"]
    deps = {i.name: sorted(names[d] for d in i.depends_on) for i in ev.order}
    assert deps == {
        "ws/j1": [],
        "ws/j2": [],
        "ws/j3": ["ws/j1", "ws/j2"],
        "ws/j4": ["ws/j1", "ws/j2"],
    }
    bad = {"resources": [job("[concat('ws/j', copyIndex())]", copy={"name": "loop", "count": -1})]}
    with pytest.raises(TemplateError) as err:
        Evaluation(bad, None, SCOPE)
    assert "copy count must be between 0 and 800, got -1" in str(err.value)
    assert err.value.path == "resources[0].copy.count"
    empty = {"resources": [job("[concat('ws/j', copyIndex())]", copy={"name": "loop", "count": 0})]}
    assert Evaluation(empty, None, SCOPE).order == []


def test_conditions_and_child_resources() -> None:
    tpl = {
        "parameters": {"make": {"type": "bool", "defaultValue": False}},
        "resources": [
            {
                "type": WS,
                "apiVersion": "2021-03-01-preview",
                "name": "ws",
                "properties": {},
                "resources": [
                    {
                        "type": "jobs",
                        "apiVersion": "2021-03-01-preview",
                        "name": "child",
                        "properties": {},
                    }
                ],
            },
            job("ws/maybe", condition="[parameters('make')]"),
            job("ws/after", dependsOn=["ws/maybe"]),
        ],
    }
    ev = Evaluation(tpl, None, SCOPE)
    names = [i.name for i in ev.order]
    assert sorted(names) == ["ws", "ws/after", "ws/child"]  # 'maybe' is left out
    assert names.index("ws") < names.index("ws/child")
    child = next(i for i in ev.order if i.name == "ws/child")
    assert ev.instance(child.depends_on[0]).name == "ws"


def test_language_v2_symbolic_names_and_existing() -> None:
    tpl = {
        "languageVersion": "2.0",
        "resources": {
            "ws": {"type": WS, "apiVersion": "2021-03-01-preview", "name": "ws", "existing": True},
            "j": job("ws/j", dependsOn=["ws"]),
        },
        "outputs": {"id": {"type": "string", "value": "[resourceInfo('j').id]"}},
    }
    ev = Evaluation(tpl, None, SCOPE)
    assert [i.key for i in ev.order] == ["ws", "j"]
    assert ev.instance("ws").existing
    assert ev.outputs()["id"]["value"].endswith("/workspaces/ws/jobs/j")


def test_reference_reads_deployed_resources_through_the_reader() -> None:
    seen: list[str] = []

    def reader(rid: str) -> dict[str, Any]:
        seen.append(rid)
        return {"id": rid, "properties": {"status": "Completed"}}

    tpl = {
        "resources": [job("ws/a")],
        "outputs": {
            "s": {"type": "string", "value": "[reference('ws/a').status]"},
            "full": {
                "type": "string",
                "value": (
                    f"[reference(resourceId('{JOBS}', 'ws', 'a'), '2021-03-01-preview', 'Full').id]"
                ),
            },
        },
    }
    ev = Evaluation(tpl, None, SCOPE, reader)
    with pytest.raises(TemplateError) as err:
        ev.outputs()
    assert "not deployed yet" in str(err.value)
    ev.deployed.add(ev.order[0].key)
    out = ev.outputs()
    assert out["s"]["value"] == "Completed"
    assert out["full"]["value"].endswith("/jobs/a")


def test_depends_on_must_name_a_resource_unless_its_condition_left_it_out() -> None:
    bad = {"resources": [job("ws/a", dependsOn=["ws/nothing"])]}
    with pytest.raises(TemplateError) as err:
        Evaluation(bad, None, SCOPE)
    assert "dependsOn names 'ws/nothing', which is not a resource or copy loop" in str(err.value)
    assert err.value.path == "resources[0].dependsOn[0]"
    ok = {
        "resources": [
            job("ws/maybe", condition="[equals(1, 2)]"),
            job("ws/a", dependsOn=[f"[resourceId('{JOBS}', 'ws', 'maybe')]", "ws/maybe"]),
        ]
    }
    assert [i.name for i in Evaluation(ok, None, SCOPE).order] == ["ws/a"]


def test_an_output_copy_that_is_not_an_object_is_a_template_error() -> None:
    tpl = {"resources": [], "outputs": {"o": {"type": "array", "copy": 5}}}
    with pytest.raises(TemplateError) as err:
        Evaluation(tpl, None, SCOPE).outputs()
    assert "a copy needs 'name', 'count' and 'input'" in str(err.value)
    assert err.value.path == "outputs.o.copy"
