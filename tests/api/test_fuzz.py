"""Property-based fuzz of the whole API (schemathesis): no request may get a 5xx.

Two descriptions drive it, against a live server with the admin token:

* the spec (``mfe.json``), for the operations amlite serves (jobs, codes, data,
  environments, datastores): bodies generated from the swagger definitions, valid and
  invalid (schemathesis' positive and negative modes), with the ``$ref``s into files not
  vendored replaced by what they describe;
* the server's own ``/openapi.json``, for everything else (MLflow, files, history, metrics,
  trial summaries): their path parameters as arbitrary text.

Bounded and deterministic: a fixed number of examples per operation and mode, derandomized
(the same cases every run), no example database; the whole run takes about a minute.
Generated job commands are replaced by ``true``: the fuzz checks the API, it must not run
arbitrary shell text on the machine (hostile commands are covered in test_hostile_requests).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from support.server import LiveServer
from support.shared import SPEC_DIR

EXAMPLES_PER_OPERATION = 5
"""Per operation and generation mode: about 700 requests in all."""
SERVED_KINDS = ("jobs", "codes", "data", "environments", "datastores")
API_VERSION = "2021-03-01-preview"
PINNED = {
    "common_ApiVersionParameter": API_VERSION,
    "common_SubscriptionIdParameter": "00000000-0000-0000-0000-000000000000",
    "common_ResourceGroupNameParameter": "rg1",
}
COMMON_REF = "../../../../../common-types/resource-management/v2/types.json#/"
MLS_STUBS: dict[str, dict[str, Any]] = {
    "machineLearningServices.json#/parameters/WorkspaceNameParameter": {
        "name": "workspaceName",
        "in": "path",
        "required": True,
        "type": "string",
    },
    "machineLearningServices.json#/parameters/PaginationParameter": {
        "name": "$skipToken",
        "in": "query",
        "required": False,
        "type": "string",
    },
    "machineLearningServices.json#/definitions/ContainerResourceRequirements": {"type": "object"},
}


def _served(path: str) -> bool:
    parts = path.split("/")
    return "workspaces" in parts and parts[parts.index("workspaces") + 2] in SERVED_KINDS


def spec_document() -> dict[str, Any]:
    """mfe.json reduced to the operations amlite serves, with no reference to another file."""
    doc: dict[str, Any] = json.loads((SPEC_DIR / "mfe.json").read_text())
    common_path = SPEC_DIR / "common-types" / "resource-management" / "v2" / "types.json"
    common: dict[str, Any] = json.loads(common_path.read_text())
    doc["paths"] = {p: ops for p, ops in doc["paths"].items() if _served(p)}
    doc.pop("x-ms-paths", None)
    doc.setdefault("parameters", {})

    def rewrite(node: Any) -> Any:
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref in MLS_STUBS:
            return copy.deepcopy(MLS_STUBS[ref])
        if isinstance(ref, str) and ref.startswith(COMMON_REF):
            section, name = ref[len(COMMON_REF) :].split("/", 1)
            local = f"common_{name}"
            if local not in doc[section]:
                doc[section][local] = {}  # placeholder against cycles
                doc[section][local] = rewrite_common(common[section][name])
            return {"$ref": f"#/{section}/{local}"}
        return {k: rewrite(v) for k, v in node.items()}

    def rewrite_common(node: Any) -> Any:
        text = json.dumps(node).replace('"#/definitions/', f'"{COMMON_REF}definitions/')
        return rewrite(json.loads(text))

    doc["paths"] = rewrite(doc["paths"])
    for name in [k for k in doc["definitions"] if not k.startswith("common_")]:
        doc["definitions"][name] = rewrite(doc["definitions"][name])
    # valid cases reach what is behind the version and workspace checks (invalid cases still
    # break these parameters too)
    for name, value in PINNED.items():
        parameter = doc["parameters"].get(name)
        if parameter is not None:
            parameter["enum"] = [value]
    for ops in doc["paths"].values():
        for parameter in ops.get("parameters", []):
            if parameter.get("name") == "workspaceName":
                parameter["enum"] = ["ws1"]
        for op in ops.values():
            for parameter in op.get("parameters", []) if isinstance(op, dict) else []:
                if parameter.get("name") == "workspaceName":
                    parameter["enum"] = ["ws1"]
    return doc


def _harmless(case: Any) -> Any:
    """Job commands become ``true`` (the fuzz must not run generated shell text)."""
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("properties"), dict):
        props = body["properties"]
        if "command" in props:
            props["command"] = "true"
        trial = props.get("trial")
        if isinstance(trial, dict) and "command" in trial:
            trial["command"] = "true"
    return case


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    srv = LiveServer(tmp_path_factory.mktemp("fuzz") / "home", slots=1).start()
    yield srv
    srv.stop()


def _fuzz(schema: Any, live: LiveServer, modes: tuple[GenerationMode, ...]) -> list[str]:
    """Every operation of ``schema``, a fixed number of cases per mode; the 5xx answers."""
    failures: list[str] = []
    headers = {"Authorization": f"Bearer {live.token}"}
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in modes:
            strategy = operation.as_strategy(generation_mode=mode).map(_harmless)

            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                derandomize=True,
                database=None,
                deadline=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy)
            def run(case: Any) -> None:
                response = case.call(base_url=live.url, headers=headers, timeout=30)
                if response.status_code >= 500:
                    failures.append(
                        f"{response.status_code} {case.method} {response.request.url}: "
                        f"{response.text[:300]}"
                    )

            try:
                run()
            except Unsatisfiable:  # nothing to break in an operation without parameters
                if mode is not GenerationMode.NEGATIVE:
                    raise
    assert operations > 0
    return failures


@pytest.mark.timeout(900)
def test_fuzz_the_spec_operations(live: LiveServer) -> None:
    schema = schemathesis.openapi.from_dict(spec_document())
    failures = _fuzz(schema, live, (GenerationMode.POSITIVE, GenerationMode.NEGATIVE))
    assert not failures, "\n".join(failures[:20])
    assert httpx.get(f"{live.url}/health").status_code == 200


@pytest.mark.timeout(900)
def test_fuzz_the_servers_own_description(live: LiveServer) -> None:
    raw: dict[str, Any] = httpx.get(f"{live.url}/openapi.json").json()
    raw["paths"] = {
        p: ops
        for p, ops in raw["paths"].items()
        if not _served(p.replace("{", "").replace("}", ""))
    }
    schema = schemathesis.openapi.from_dict(raw)
    # its parameters are plain strings: any text is "valid" (control characters, slashes,
    # emoji), so the negative mode has nothing to break and only burns time looking
    failures = _fuzz(schema, live, (GenerationMode.POSITIVE,))
    assert not failures, "\n".join(failures[:20])


def test_the_spec_document_is_self_contained() -> None:
    text = json.dumps(spec_document())
    assert ".json#" not in text
    assert "/jobs/{id}" in text
