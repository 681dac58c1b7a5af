"""Bicep errors name the file, line and column of the problem (1-based, as editors count)."""

from __future__ import annotations

from pathlib import Path

import pytest

from amlite.deployments.bicep import BicepError, compile_file, load_bicepparam

JOB = "resource job 'Microsoft.MachineLearningServices/workspaces/jobs@2021-03-01-preview' = {"


def error_of(tmp_path: Path, text: str, files: dict[str, str] | None = None) -> BicepError:
    for name, content in (files or {}).items():
        (tmp_path / name).write_text(content, encoding="utf-8")
    main = tmp_path / "main.bicep"
    main.write_text(text, encoding="utf-8")
    with pytest.raises(BicepError) as info:
        compile_file(main)
    return info.value


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("param a string\nvar b = frobnicate(a)\n", 2, 9, "unknown function 'frobnicate'"),
        ("var a = 1\nvar b = a + c\n", 2, 13, "the name 'c' does not exist"),
        ("var a = {\n  x: 1\n", 3, 1, "a property name expected, found the end of the file"),
        ("var a = 'abc\nvar b = 1\n", 1, 9, "unterminated string"),
        ("var a = 'x${}'\n", 1, 13, "empty string interpolation"),
        ("param a string\nparam a int\n", 2, 1, "'a' is declared more than once"),
        ("var a = b\nvar b = a\n", 1, 1, "cycle: a -> b -> a"),
        ("var a = 1.5\n", 1, 9, "decimal numbers are not supported"),
        ("var a = 1 var b = 2\n", 1, 11, "end of line expected"),
        ("var a = 'x' ?? \n", 1, 16, "an expression expected, found a new line"),
        (
            "var a = loadTextContent('missing.txt')\n",
            1,
            25,
            "the file 'missing.txt' does not exist",
        ),
        (
            "module m 'nope.bicep' = {\n  name: 'm'\n}\n",
            1,
            10,
            "the module file 'nope.bicep' does not exist",
        ),
        ("@secure()\nparam n int\n", 1, 1, "@secure() applies to string and object parameters"),
        ("var a = {\n  k: 1\n  K: 2\n}\n", 3, 3, "the property 'K' is declared more than once"),
        (
            "var xs = [for x in [1]: x]\nvar y = [ [for z in xs: z] ]\n",
            2,
            11,
            "a loop is only supported as",
        ),
        (
            JOB + "\n  name: 'w/j'\n}\noutput o string = job\n",
            4,
            19,
            "'job' is a resource: use one of its properties",
        ),
        ("var a = filter([1], x => x > 0)\n", 1, 21, "lambda expressions are not supported"),
        ("targetScope = 'subscription'\n", 1, 1, "targetScope 'subscription' is not supported"),
        ("@export()\nparam p string\n", 1, 1, "the decorator @export is not allowed here"),
        (
            "resource w 'Microsoft.A/b@1' existing = {\n  name: 'w'\n  scope: resourceGroup('x')\n"
            "  resource c 'c' = {\n    name: 'c'\n  }\n}\n",
            3,
            3,
            "'scope' is only supported for existing resources: "
            "'c' would be deployed to another resource group",
        ),
        (
            "resource w 'Microsoft.A/b@1' = {\n  name: 'w'\n  scope: resourceGroup('x')\n}\n",
            3,
            3,
            "'scope' is only supported on existing resources and modules",
        ),
        (
            "param n string\n@description(n)\nparam p string\n",
            2,
            14,
            "@description needs a literal value",
        ),
        ("@minValue(true)\nparam p int\n", 1, 11, "@minValue needs a literal value"),
        ("resource r 'jobs' = {\n  name: 'a'\n}\n", 1, 12, "invalid resource type 'jobs'"),
        (
            "resource w 'Microsoft.A/b@1' existing = {\n  name: 'w'\n}\n"
            "resource r 'Microsoft.A/c/d@1' = {\n  parent: w\n  name: 'a'\n}\n",
            4,
            1,
            "the type 'Microsoft.A/c/d' is not a child type of its parent 'Microsoft.A/b'",
        ),
        (
            "resource r 'Microsoft.X/y' = {\n  name: 'a'\n}\n",
            1,
            12,
            "invalid resource type 'Microsoft.X/y'",
        ),
    ],
)
def test_error_positions(tmp_path: Path, text: str, line: int, column: int, message: str) -> None:
    err = error_of(tmp_path, text)
    where = f"{tmp_path / 'main.bicep'}:{line}:{column}: "
    assert str(err).startswith(where), str(err)
    assert message in str(err)
    assert err.position.line == line and err.position.column == column
    assert err.code == "BicepCompilationFailed"


def test_an_error_inside_a_module_names_the_module_file(tmp_path: Path) -> None:
    err = error_of(
        tmp_path,
        "module m 'mod.bicep' = {\n  name: 'm'\n}\n",
        {"mod.bicep": "param p string\n\noutput o string = nope(p)\n"},
    )
    assert str(err).startswith(f"{tmp_path / 'mod.bicep'}:3:19: unknown function 'nope'")


def test_module_parameters_are_checked(tmp_path: Path) -> None:
    files = {"mod.bicep": "param needed string\nparam other string = 'x'\n"}
    err = error_of(
        tmp_path, "module m 'mod.bicep' = {\n  name: 'm'\n  params: {\n    typo: 1\n  }\n}\n", files
    )
    assert "main.bicep:4:5: the module 'mod.bicep' has no parameter 'typo'" in str(err)
    err = error_of(tmp_path, "module m 'mod.bicep' = {\n  name: 'm'\n}\n", files)
    assert "main.bicep:1:1: the module 'mod.bicep' needs the parameter(s) needed" in str(err)


def test_a_module_cycle_is_refused(tmp_path: Path) -> None:
    err = error_of(tmp_path, "module m 'main.bicep' = {\n  name: 'm'\n}\n")
    assert "main.bicep:1:10: the module 'main.bicep' refers back to a file that uses it" in str(err)


def test_bicepparam_errors(tmp_path: Path) -> None:
    params = tmp_path / "p.bicepparam"
    params.write_text("param a = 1\n", encoding="utf-8")
    with pytest.raises(BicepError, match="has no 'using' statement"):
        load_bicepparam(params)
    params.write_text("using 'main.bicep'\nparam a = concat('x')\n", encoding="utf-8")
    (tmp_path / "main.bicep").write_text("param a string\n", encoding="utf-8")
    with pytest.raises(BicepError) as info:
        load_bicepparam(params)
    assert str(info.value).startswith(f"{params}:2:11: a parameter value must be a literal")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("(" * 3000 + "1" + ")" * 3000, "expressions are nested too deeply (more than 50 levels)"),
        ("[" * 3000 + "]" * 3000, "expressions are nested too deeply"),
        ("!" * 5000 + "true", "expressions are nested too deeply"),
        ("'${" * 30 + "1" + "}'" * 30, "string interpolations are nested too deeply"),
        (" + ".join(["1"] * 2000), "too many operators in one expression (more than 200)"),
    ],
)
def test_hostile_nesting_is_refused_cleanly(tmp_path: Path, body: str, message: str) -> None:
    err = error_of(tmp_path, f"var a = {body}\n")
    assert message in str(err)
    assert str(err).startswith(f"{tmp_path / 'main.bicep'}:1:")


def test_reasonable_nesting_compiles(tmp_path: Path) -> None:
    main = tmp_path / "main.bicep"
    main.write_text(
        "var a = " + "(" * 45 + "1" + ")" * 45 + "\nvar b = " + " + ".join(["a"] * 150) + "\n"
    )
    variables = compile_file(main)["variables"]
    assert variables["a"] == 1
    assert variables["b"].startswith(
        "[add(add(add(add("
    )  # a left-deep add() chain, as Bicep writes it
    assert variables["b"].count("add(") == 149


def test_mangled_files_fail_only_with_bicep_errors(tmp_path: Path) -> None:
    """Truncations, insertions and deletions of a real file (fixed seed): every outcome is a
    template or a BicepError with a position, never another exception."""
    import random

    from support.shared import CORPUS

    source = CORPUS / "azure-quickstart-templates/quickstarts/microsoft.machinelearningservices"
    texts = [p.read_text(encoding="utf-8") for p in sorted(source.rglob("*.bicep"))]
    rng = random.Random(11)
    main = tmp_path / "main.bicep"
    failures = 0
    for _ in range(200):
        text = rng.choice(texts)
        i = rng.randrange(len(text) + 1)
        text = rng.choice(
            [
                text[:i],
                text[:i] + rng.choice("{}[]()'\n:=.?!@$,/-*|&<>\\") + text[i:],
                text[:i] + text[i + 3 :],
            ]
        )
        main.write_text(text, encoding="utf-8")
        try:
            compile_file(main)
        except BicepError as err:
            failures += 1
            assert err.position.line >= 1 and err.position.column >= 1
    assert failures > 50  # the mutations do break files
