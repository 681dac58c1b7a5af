"""Deployment use cases: create (long-running), get, list, delete, cancel, validate, what-if,
operations. Deployments and their operations are kept in the store; each runs on a worker
thread of the server. A deployment that was running when the server stopped is marked Failed
at the next start (the resources it created are kept, and deploying again does not duplicate
them: every resource PUT is idempotent and an unchanged job is not resubmitted).
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor

from amlite.deployments.engine import (
    DeploymentRequestError,
    Engine,
    Operation,
    Outcome,
    Plan,
    duration,
    iso_now,
)
from amlite.deployments.providers import Providers
from amlite.deployments.template.evaluator import (
    DEPLOYMENTS_TYPE,
    OUTPUT_TYPES,
    SECURE_TYPES,
    Evaluation,
    Instance,
    Scope,
    is_inner_scope,
)
from amlite.deployments.template.hashing import murmur64
from amlite.domain.json_value import JsonObject, JsonValue, member
from amlite.errors import Conflict, NotFound, ValidationFailed, Violation
from amlite.services.assets import Assets
from amlite.services.jobs import Jobs
from amlite.services.paging import decode_token
from amlite.services.workspaces import Workspaces
from amlite.store import DeploymentRecord, Store

ACTIVE = ("Accepted", "Running")
PAGE_SIZE = 100
_SEGMENT = re.compile(r"^[-\w\._\(\)]{1,90}$")
_NAME = re.compile(r"^[-\w\._\(\)]{1,64}$")
RESTART_REASON = (
    "the amlite server stopped while this deployment was running; the resources it had "
    "created are kept: deploy the template again to finish (unchanged resources are not "
    "created twice)"
)


def scope_of(sub: str, rg: str) -> Scope:
    problems = [
        Violation(target, f"'{value}' is not a valid name (letters, digits, - _ . ( ), at most 90)")
        for target, value in (("subscriptionId", sub), ("resourceGroupName", rg))
        if not _SEGMENT.match(value) or value in (".", "..")
    ]
    if problems:
        raise ValidationFailed(problems)
    return Scope(sub, rg, "")


def check_deployment_name(name: str) -> None:
    if not _NAME.match(name) or name in (".", ".."):
        raise ValidationFailed.one(
            "deploymentName",
            f"'{name}' is not a valid deployment name (letters, digits, - _ . ( ), at most 64)",
        )


def deployment_id(sub: str, rg: str, name: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{DEPLOYMENTS_TYPE}/{name}"


def _request(body: JsonValue) -> JsonObject:
    """The ``properties`` of a deployment PUT / validate / whatIf body, checked."""
    props = member(body, "properties")
    if not isinstance(body, dict) or not isinstance(props, dict):
        raise ValidationFailed.one("properties", 'the body must be {"properties": {...}}')
    if "templateLink" in props:
        raise ValidationFailed.one(
            "properties.templateLink",
            "templateLink is not supported: amlite fetches no templates; send the template "
            "inline in properties.template (the CLI reads local files for you)",
            code="InvalidTemplateLink",
        )
    if "parametersLink" in props:
        raise ValidationFailed.one(
            "properties.parametersLink",
            "parametersLink is not supported: send the parameters inline in properties.parameters",
        )
    if not isinstance(props.get("template"), dict):
        raise ValidationFailed.one("properties.template", "the template (an object) is required")
    mode = props.get("mode")
    if not isinstance(mode, str):
        raise ValidationFailed.one("properties.mode", "mode is required: 'Incremental'")
    if mode.lower() == "complete":
        raise ValidationFailed.one(
            "properties.mode",
            "Complete mode is not supported: amlite deploys in Incremental mode only (it never "
            "deletes resources a template leaves out)",
            code="InvalidDeploymentMode",
        )
    if mode.lower() != "incremental":
        raise ValidationFailed.one("properties.mode", f"mode '{mode}' must be 'Incremental'")
    params = props.get("parameters")
    if params is not None and not isinstance(params, dict):
        raise ValidationFailed.one("properties.parameters", "parameters must be an object")
    return props


class Deployments:
    def __init__(
        self, store: Store, jobs: Jobs, assets: Assets, workspaces: Workspaces, workers: int = 2
    ) -> None:
        self._store = store
        self.providers = Providers(store, jobs, assets, workspaces)
        self.engine = Engine(self.providers, self._read_deployment)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="amlite-deploy")
        self._cancel: set[tuple[str, str]] = set()
        self._futures: dict[tuple[str, str], Future[None]] = {}
        self._lock = threading.Lock()
        self.recover()

    def recover(self) -> None:
        """Deployments left running by a server that stopped are marked Failed."""
        for record in self._store.deployments_in_states(ACTIVE):
            body = dict(record.body)
            body["error"] = {
                "code": "DeploymentInterrupted",
                "message": RESTART_REASON,
                "target": None,
                "details": [],
            }
            body["timestamp"] = iso_now()
            self._store.update_deployment(record.scope_key, record.name, "Failed", body)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- create --------------------------------------------------------------------------------
    def create(self, sub: str, rg: str, name: str, body: JsonValue) -> tuple[JsonObject, bool]:
        """Validate and start a deployment; (its GET body, True if it is new)."""
        scope = scope_of(sub, rg)
        check_deployment_name(name)
        props = _request(body)
        key = f"{sub}/{rg}".lower()
        scope = Scope(sub, rg, name)
        plan = self.engine.plan(scope, props["template"], props.get("parameters"))
        with self._lock:  # one check-and-replace at a time: two PUTs of a name never interleave
            existing = self._store.get_deployment(key, name)
            if existing is not None and existing.state in ACTIVE:
                raise Conflict(
                    f"the deployment '{name}' is still running and cannot be overwritten: "
                    "wait for it or cancel it",
                    target="deploymentName",
                )
            record = self._store.put_deployment(
                key, name, "Accepted", self._initial(scope, plan, props)
            )
            self._cancel.discard((key, name))
            self._futures[(key, name)] = self._pool.submit(self._run, record, plan)
        return self.wire(record), existing is None

    def _initial(self, scope: Scope, plan: Plan, props: JsonObject) -> JsonObject:
        ev = plan.evaluation
        template = props["template"]
        body: JsonObject = {
            "templateHash": str(murmur64(json.dumps(template, sort_keys=True).encode())),
            "parameters": _parameters(ev),
            "mode": "Incremental",
            "provisioningState": "Accepted",
            "timestamp": iso_now(),
            "duration": "PT0S",
            "correlationId": str(uuid.uuid4()),
            "providers": [*_providers(ev)],
            "dependencies": [*_dependencies(ev)],
            "outputResources": [],
            "_amlite": {
                "scope": [scope.subscription_id, scope.resource_group],
                "started": time.time(),
            },
        }
        if "debugSetting" in props:
            body["debugSetting"] = props["debugSetting"]
        return body

    def _run(self, record: DeploymentRecord, plan: Plan) -> None:
        key, name = record.scope_key, record.name
        body = dict(record.body)
        body["provisioningState"] = "Running"
        try:
            self._store.update_deployment(key, name, "Running", body)
            outcome = self.engine.execute(
                plan,
                lambda op: self._save_op(record.seq, op),
                lambda: (key, name) in self._cancel,
                self._nested,
            )
        except Exception as exc:  # never leave a deployment Running on a bug
            outcome = Outcome(
                "Failed",
                {},
                [],
                {
                    "code": "InternalServerError",
                    "message": f"amlite hit an unexpected error: {type(exc).__name__}: {exc}",
                    "target": None,
                    "details": [],
                },
            )
        self._finish(key, name, body, outcome)
        with self._lock:
            self._cancel.discard((key, name))

    def _save_op(self, seq: int, op: Operation) -> None:
        self._store.put_operation(seq, op.position, op.operation_id, op.instance.id, op.body)

    def _finish(self, key: str, name: str, body: JsonObject, outcome: Outcome) -> None:
        body = dict(body)
        started = member(body, "_amlite", "started")
        body["provisioningState"] = outcome.state
        body["timestamp"] = iso_now()
        body["duration"] = duration(
            time.time() - started if isinstance(started, int | float) else 0.0
        )
        outputs: JsonObject = {
            k: (
                {"type": v["type"]}
                if v["type"].lower() in SECURE_TYPES
                else {"type": v["type"], "value": v["value"]}
            )
            for k, v in outcome.outputs.items()
        }
        body["outputs"] = outputs
        body["outputResources"] = [{"id": rid} for rid in outcome.output_resources]
        if outcome.error is not None:
            body["error"] = outcome.error
        self._store.update_deployment(key, name, outcome.state, body)

    def _nested(
        self, scope: Scope, inst: Instance, body: JsonObject, parent: Evaluation
    ) -> JsonObject:
        found_props = body.get("properties")
        props: JsonObject = found_props if isinstance(found_props, dict) else {}
        inner = is_inner_scope(props)
        child = Scope(scope.subscription_id, scope.resource_group, inst.name, scope.location)
        plan = self.engine.plan(
            child,
            props.get("template"),
            props.get("parameters") if inner else None,
            None if inner else parent,
        )
        key = f"{child.subscription_id}/{child.resource_group}".lower()
        record = self._store.put_deployment(
            key,
            inst.name,
            "Running",
            self._initial(child, plan, {"template": props.get("template")}),
        )
        outcome = self.engine.execute(
            plan,
            lambda op: self._save_op(record.seq, op),
            lambda: False,
            self._nested,
        )
        self._finish(key, inst.name, record.body, outcome)
        if outcome.error is not None:
            raise DeploymentRequestError(
                "DeploymentFailed",
                f"the nested deployment '{inst.name}' failed",
                [outcome.error],
            )
        found = self._store.get_deployment(key, inst.name)
        assert found is not None
        return self.wire(found)

    def wait(self, sub: str, rg: str, name: str, timeout: float | None = None) -> None:
        """Block until a deployment started here has finished (for tools and benchmarks)."""
        with self._lock:
            future = self._futures.get((f"{sub}/{rg}".lower(), name))
        if future is not None:
            future.result(timeout)

    # -- read ----------------------------------------------------------------------------------
    def _read_deployment(self, scope: Scope, name: str) -> JsonObject | None:
        record = self._store.get_deployment(f"{scope.subscription_id}/{scope.resource_group}", name)
        return self.wire(record) if record is not None else None

    def _require(self, sub: str, rg: str, name: str) -> DeploymentRecord:
        scope_of(sub, rg)
        record = self._store.get_deployment(f"{sub}/{rg}", name)
        if record is None:
            raise NotFound(
                f"Deployment '{name}' could not be found in resource group '{rg}'",
                target="deploymentName",
            )
        return record

    def exists(self, sub: str, rg: str, name: str) -> bool:
        scope_of(sub, rg)
        return self._store.get_deployment(f"{sub}/{rg}", name) is not None

    def get(self, sub: str, rg: str, name: str) -> JsonObject:
        return self.wire(self._require(sub, rg, name))

    def status(self, sub: str, rg: str, name: str) -> JsonObject:
        """The Azure-AsyncOperation body of a deployment."""
        record = self._require(sub, rg, name)
        out: JsonObject = {"status": record.state}
        if record.body.get("error"):
            out["error"] = record.body["error"]
        return out

    def list_page(
        self, sub: str, rg: str, *, skiptoken: str | None = None, top: int | None = None
    ) -> tuple[list[JsonObject], int | None]:
        scope_of(sub, rg)
        limit = max(1, min(top or PAGE_SIZE, PAGE_SIZE))
        records = self._store.list_deployments(
            f"{sub}/{rg}", after_seq=decode_token(skiptoken), limit=limit + 1
        )
        more = len(records) > limit
        records = records[:limit]
        return [self.wire(r) for r in records], (records[-1].seq if more and records else None)

    def operations(
        self, sub: str, rg: str, name: str, *, skiptoken: str | None = None, top: int | None = None
    ) -> tuple[list[JsonObject], int | None]:
        record = self._require(sub, rg, name)
        limit = max(1, min(top or PAGE_SIZE, PAGE_SIZE))
        after = decode_token(skiptoken)
        ops = self._store.list_operations(record.seq, after_position=after, limit=limit + 1)
        more = len(ops) > limit
        ops = ops[:limit]
        base = deployment_id(sub, rg, name)
        value: list[JsonObject] = [
            {
                "id": f"{base}/operations/{o.operation_id}",
                "operationId": o.operation_id,
                "properties": o.body,
            }
            for o in ops
        ]
        return value, (ops[-1].position if more and ops else None)

    def operation(self, sub: str, rg: str, name: str, operation_id: str) -> JsonObject:
        record = self._require(sub, rg, name)
        for o in self._store.list_operations(record.seq, limit=100_000):
            if o.operation_id.lower() == operation_id.lower():
                return {
                    "id": f"{deployment_id(sub, rg, name)}/operations/{o.operation_id}",
                    "operationId": o.operation_id,
                    "properties": o.body,
                }
        raise NotFound(f"operation '{operation_id}' of deployment '{name}' does not exist")

    def wire(self, record: DeploymentRecord) -> JsonObject:
        # the scope as it was given (the record's key is lowercased)
        scope = member(record.body, "_amlite", "scope")
        given = [str(part) for part in scope] if isinstance(scope, list) else []
        sub, rg = given or record.scope_key.split("/", 1)
        props = {k: v for k, v in record.body.items() if not k.startswith("_")}
        props["provisioningState"] = record.state
        return {
            "id": deployment_id(sub, rg, record.name),
            "name": record.name,
            "type": DEPLOYMENTS_TYPE,
            "properties": props,
        }

    # -- delete / cancel -------------------------------------------------------------------------
    def delete(self, sub: str, rg: str, name: str) -> bool:
        """Remove the record (not the resources). False if it did not exist."""
        scope_of(sub, rg)
        record = self._store.get_deployment(f"{sub}/{rg}", name)
        if record is None:
            return False
        if record.state in ACTIVE:
            raise Conflict(
                f"the deployment '{name}' is still running: cancel it before deleting it",
                target="deploymentName",
            )
        return self._store.delete_deployment(f"{sub}/{rg}", name)

    def cancel(self, sub: str, rg: str, name: str) -> None:
        record = self._require(sub, rg, name)
        if record.state not in ACTIVE:
            raise Conflict(
                f"the deployment '{name}' is {record.state} and cannot be canceled",
                target="deploymentName",
            )
        with self._lock:
            self._cancel.add((record.scope_key, name))

    # -- validate / what-if ---------------------------------------------------------------------
    def validate(self, sub: str, rg: str, name: str, body: JsonValue) -> JsonObject:
        scope_of(sub, rg)
        check_deployment_name(name)
        props = _request(body)
        scope = Scope(sub, rg, name)
        plan = self.engine.plan(scope, props["template"], props.get("parameters"))
        out = {k: v for k, v in self._initial(scope, plan, props).items() if not k.startswith("_")}
        out["provisioningState"] = "Succeeded"
        out["validatedResources"] = [{"id": i.id} for i in plan.evaluation.order if not i.existing]
        return {
            "id": deployment_id(sub, rg, name),
            "name": name,
            "type": DEPLOYMENTS_TYPE,
            "properties": out,
        }

    def what_if(self, sub: str, rg: str, name: str, body: JsonValue) -> JsonObject:
        scope_of(sub, rg)
        check_deployment_name(name)
        props = _request(body)
        plan = self.engine.plan(Scope(sub, rg, name), props["template"], props.get("parameters"))
        return {"status": "Succeeded", "properties": {"changes": [*self.engine.what_if(plan)]}}


def _parameters(ev: Evaluation) -> JsonObject:
    secure = {s.lower() for s in ev.secure_parameters()}
    out: JsonObject = {}
    for name, value in ev.parameter_values().items():
        ptype = str(member(ev.template, "parameters", name, "type") or "string").lower()
        shown = OUTPUT_TYPES.get(ptype, "String")
        out[name] = {"type": shown} if name.lower() in secure else {"type": shown, "value": value}
    return out


def _providers(ev: Evaluation) -> list[JsonObject]:
    by_ns: dict[str, list[str]] = {}
    for inst in ev.order:
        ns, _, rest = inst.type.partition("/")
        kinds = by_ns.setdefault(ns, [])
        if rest not in kinds:
            kinds.append(rest)
    out: list[JsonObject] = [
        {"namespace": ns, "resourceTypes": [{"resourceType": k, "locations": []} for k in kinds]}
        for ns, kinds in by_ns.items()
    ]
    return out


def _dependencies(ev: Evaluation) -> list[JsonObject]:
    out: list[JsonObject] = []
    for inst in ev.order:
        if not inst.depends_on:
            continue
        deps = [ev.instance(k) for k in dict.fromkeys(inst.depends_on)]
        out.append(
            {
                "id": inst.id,
                "resourceType": inst.type,
                "resourceName": inst.name,
                "dependsOn": [
                    {"id": d.id, "resourceType": d.type, "resourceName": d.name} for d in deps
                ],
            }
        )
    return out
