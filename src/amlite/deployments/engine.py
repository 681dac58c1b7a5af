"""Validate, preview (what-if) and execute one template in one resource group.

- ``plan``: evaluate parameters and resources, order them, and validate every resource body
  that can be known before deploying (what a PUT of it would refuse) — all problems at once,
  before anything is created.
- ``execute``: create the resources in dependency order through the providers, one
  operation each; resources depending on a failed one are not attempted.
- ``what_if``: what ``execute`` would change, per resource.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from amlite import schemas
from amlite.deployments.providers import (
    Providers,
    Target,
    UnsupportedResource,
    check_api_version,
    classify,
)
from amlite.deployments.template.errors import DeferredReference, TemplateError
from amlite.deployments.template.evaluator import (
    Evaluation,
    Instance,
    ResourceReader,
    Scope,
    TemplateOutput,
    is_inner_scope,
)
from amlite.deployments.template.functions import FunctionError
from amlite.domain.json_value import JsonObject, JsonValue, text
from amlite.errors import RequestError

_ID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/(?P<ns>[^/]+)/(?P<rest>.+)$",
    re.IGNORECASE,
)


class DeploymentRequestError(RequestError):
    """A 400 in the ARM envelope with one detail per problem."""

    def __init__(
        self, code: str, message: str, details: list[JsonObject], target: str | None = None
    ) -> None:
        super().__init__(message, target=target)
        self.code = code
        self.details = details

    def error(self) -> JsonObject:
        """The ARM error object: code, message, target and one detail per problem."""
        return {
            "code": self.code,
            "message": self.message,
            "target": self.target,
            "details": [*self.details],
        }

    def envelope(self) -> JsonObject:
        return {"error": self.error()}


def template_error(err: TemplateError) -> DeploymentRequestError:
    return DeploymentRequestError(err.code, str(err), [], target=err.path)


def template_problem(err: TemplateError) -> JsonObject:
    """The ARM error (one detail of a failed validation or deployment) of a template error."""
    return {"code": err.code, "message": str(err), "target": err.path, "details": []}


def error_detail(exc: RequestError, label: str) -> JsonObject:
    """The ARM error of a refused resource, its details naming each field."""
    body = schemas.error_envelope(exc)["error"]
    if label not in body["message"]:  # classify / check_api_version name it already
        body["message"] = f"{label}: {body['message']}"
    return dict(body)


@dataclass
class Plan:
    evaluation: Evaluation
    targets: dict[str, Target]
    nested: dict[str, Plan | None] = field(default_factory=dict)
    """Plans of nested deployments validated up front (None when only known while deploying)."""


@dataclass
class Operation:
    position: int
    operation_id: str
    instance: Instance
    body: JsonObject


@dataclass
class Outcome:
    state: str
    outputs: dict[str, TemplateOutput]
    output_resources: list[str]
    error: JsonObject | None


NestedRunner = Callable[[Scope, Instance, JsonObject, Evaluation], JsonObject]
"""Runs a nested deployment; returns its GET body; raises RequestError when it failed."""


def iso_now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def duration(seconds: float) -> str:
    return f"PT{seconds:.3f}S"


class Engine:
    def __init__(
        self, providers: Providers, read_deployment: Callable[[Scope, str], JsonObject | None]
    ) -> None:
        self.providers = providers
        self._read_deployment = read_deployment

    # -- reading deployed resources (reference()) --------------------------------------------------
    def reader(self, scope: Scope) -> ResourceReader:
        def read(resource_id: str) -> JsonObject:
            m = _ID.match(resource_id)
            if not m:
                raise FunctionError(f"'{resource_id}' is not a resource id")
            parts = m.group("rest").split("/")
            rtype = "/".join([m.group("ns"), *parts[0::2]])
            name = "/".join(parts[1::2])
            if m.group("ns").lower() == "microsoft.resources":
                found = self._read_deployment(Scope(m.group("sub"), m.group("rg"), name), name)
                if found is None:
                    raise FunctionError(f"the deployment '{name}' does not exist")
                return dict(found)
            try:
                target = classify(m.group("sub"), m.group("rg"), rtype, name, resource_id)
            except RequestError as exc:
                raise FunctionError(exc.message) from None
            current = self.providers.current(target)
            if current is None:
                raise FunctionError(f"the resource '{resource_id}' does not exist")
            return current

        return read

    # -- plan --------------------------------------------------------------------------------------
    def plan(
        self,
        scope: Scope,
        template: JsonValue,
        parameters: JsonValue,
        outer: Evaluation | None = None,
    ) -> Plan:
        try:
            ev = Evaluation(template, parameters, scope, self.reader(scope), outer=outer)
        except TemplateError as err:
            raise template_error(err) from None
        plan = Plan(ev, {})
        problems: list[JsonObject] = []
        for inst in ev.order:
            label = f"{inst.label} ({inst.path})"
            try:
                target = classify(
                    scope.subscription_id, scope.resource_group, inst.type, inst.name, label
                )
                plan.targets[inst.key] = target
                if inst.existing:
                    continue
                check_api_version(target, inst.api_version, label)
            except RequestError as exc:
                problems.append(error_detail(exc, label))
                continue
            ev.preflight = True
            try:
                body: JsonObject | None = ev.resource_body(inst)
            except DeferredReference:
                body = None
            except TemplateError as err:
                problems.append(template_problem(err))
                continue
            finally:
                ev.preflight = False
            if body is None:
                continue
            try:
                if target.kind == "deployments":
                    plan.nested[inst.key] = self._plan_nested(scope, inst, body, ev)
                else:
                    self.providers.preflight(target, body)
            except DeploymentRequestError as exc:
                problems.append({**exc.error(), "message": f"{label}: {exc.message}"})
            except RequestError as exc:
                problems.append(error_detail(exc, label))
        try:
            ev.check_outputs()
        except TemplateError as err:
            problems.append(template_problem(err))
        if problems:
            first = problems[0]["message"]
            more = (
                f" (and {len(problems) - 1} more problem(s), see details)"
                if len(problems) > 1
                else ""
            )
            raise DeploymentRequestError(
                "InvalidTemplateDeployment",
                f"The template deployment failed validation: {first}{more}",
                problems,
                target=text(problems[0].get("target")) if len(problems) == 1 else None,
            )
        return plan

    def _plan_nested(
        self, scope: Scope, inst: Instance, body: JsonObject, parent: Evaluation
    ) -> Plan | None:
        props = body.get("properties")
        if not isinstance(props, dict):
            raise DeploymentRequestError(
                "InvalidTemplate", "a nested deployment needs 'properties'", [], inst.path
            )
        if "templateLink" in props:
            raise DeploymentRequestError(
                "InvalidTemplate",
                "nested deployments with 'templateLink' are not supported: inline the template",
                [],
                f"{inst.path}.properties.templateLink",
            )
        mode = str(props.get("mode", "Incremental"))
        if mode.lower() != "incremental":
            raise DeploymentRequestError(
                "InvalidTemplate",
                f"mode '{mode}' is not supported: use Incremental",
                [],
                f"{inst.path}.properties.mode",
            )
        options = props.get("expressionEvaluationOptions")
        if options is not None:
            where = f"{inst.path}.properties.expressionEvaluationOptions"
            if not isinstance(options, dict):
                raise DeploymentRequestError(
                    "InvalidTemplate", "expressionEvaluationOptions must be an object", [], where
                )
            if str(options.get("scope", "outer")).lower() not in ("inner", "outer"):
                raise DeploymentRequestError(
                    "InvalidTemplate",
                    "expressionEvaluationOptions.scope must be 'inner' or 'outer'",
                    [],
                    where,
                )
        child = Scope(scope.subscription_id, scope.resource_group, inst.name, scope.location)
        inner = is_inner_scope(props)
        try:
            return self.plan(
                child,
                props.get("template"),
                props.get("parameters") if inner else None,
                None if inner else parent,
            )
        except DeploymentRequestError as exc:
            exc.message = f"nested deployment '{inst.name}': {exc.message}"
            raise

    # -- execute -----------------------------------------------------------------------------------
    def execute(
        self,
        plan: Plan,
        on_operation: Callable[[Operation], None],
        canceled: Callable[[], bool],
        nested: NestedRunner,
    ) -> Outcome:
        ev = plan.evaluation
        failed: set[str] = set()
        errors: list[JsonValue] = []
        outputs_resources: list[str] = []
        position = 0
        for inst in ev.order:
            if canceled():
                return Outcome("Canceled", {}, outputs_resources, None)
            target = plan.targets[inst.key]
            if any(dep in failed for dep in inst.depends_on):
                failed.add(inst.key)
                continue
            if inst.existing:
                if self.providers.current(target) is None and target.kind != "deployments":
                    failed.add(inst.key)
                    errors.append(
                        {
                            "code": "ResourceNotFound",
                            "message": f"{inst.label} is declared 'existing' but does not exist",
                            "target": inst.path,
                        }
                    )
                continue
            op = Operation(position, uuid.uuid4().hex[:16].upper(), inst, {})
            position += 1
            started = time.monotonic()
            if target.kind == "deployments":  # long: show it running (others take ms)
                op.body = _op_body(inst, "Running", None, None, 0.0)
                on_operation(op)
            try:
                body = ev.resource_body(inst)
                if target.kind == "deployments":
                    nested(ev.scope, inst, body, ev)
                    status_code = "Created"
                else:
                    applied = self.providers.apply(target, body)
                    status_code = "Created" if applied.change == "Created" else "OK"
                ev.deployed.add(inst.key)
                outputs_resources.append(inst.id)
                op.body = _op_body(inst, "Succeeded", status_code, None, time.monotonic() - started)
            except TemplateError as err:
                failed.add(inst.key)
                detail = template_problem(err)
                errors.append(detail)
                op.body = _op_body(
                    inst, "Failed", "BadRequest", {"error": detail}, time.monotonic() - started
                )
            except DeploymentRequestError as exc:
                failed.add(inst.key)
                errors.append(exc.error())
                op.body = _op_body(
                    inst,
                    "Failed",
                    "Conflict" if exc.code == "DeploymentFailed" else "BadRequest",
                    exc.envelope(),
                    time.monotonic() - started,
                )
            except RequestError as exc:
                failed.add(inst.key)
                envelope = schemas.error_envelope(exc)
                errors.append(envelope["error"])
                op.body = _op_body(
                    inst,
                    "Failed",
                    _status_name(exc.status_code),
                    envelope,
                    time.monotonic() - started,
                )
            on_operation(op)
        if errors:
            return Outcome(
                "Failed",
                {},
                outputs_resources,
                {
                    "code": "DeploymentFailed",
                    "message": "At least one resource deployment operation failed. Please list "
                    "deployment operations for details.",
                    "target": None,
                    "details": errors,
                },
            )
        try:
            outputs = ev.outputs()
        except TemplateError as err:
            return Outcome("Failed", {}, outputs_resources, template_problem(err))
        return Outcome("Succeeded", outputs, outputs_resources, None)

    # -- what-if -----------------------------------------------------------------------------------
    def what_if(self, plan: Plan) -> list[JsonObject]:
        ev = plan.evaluation
        changes: list[JsonObject] = []
        for inst in ev.order:
            if inst.existing:
                continue
            target = plan.targets[inst.key]
            if target.kind == "deployments":
                sub = plan.nested.get(inst.key)
                if sub is not None:
                    changes.extend(self.what_if(sub))
                continue
            ev.preflight = True
            try:
                body = ev.resource_body(inst)
            except DeferredReference:
                changes.append(
                    {
                        "resourceId": inst.id,
                        "changeType": "Unsupported",
                        "unsupportedReason": (
                            "its body uses reference(), only known while deploying"
                        ),
                    }
                )
                continue
            finally:
                ev.preflight = False
            current = self.providers.current(target)
            after = {"id": inst.id, "name": inst.name.split("/")[-1], "type": inst.type, **body}
            if current is None:
                changes.append({"resourceId": inst.id, "changeType": "Create", "after": after})
                continue
            delta = _delta(current, after, "")
            changes.append(
                {
                    "resourceId": inst.id,
                    "changeType": "Modify" if delta else "NoChange",
                    "before": current,
                    "after": {**current, **body} if delta else current,
                    "delta": delta,
                }
            )
        return changes


def _delta(before: JsonValue, after: JsonValue, path: str) -> list[JsonValue]:
    """Property changes of ``after`` (what the template says) against ``before`` (what is
    deployed); properties the template leaves out are not compared (read-only, defaults)."""
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[JsonValue] = []
        for key, value in after.items():
            sub = f"{path}.{key}" if path else key
            if key not in before:
                if value not in (None, {}, []):
                    out.append({"path": sub, "propertyChangeType": "Create", "after": value})
            else:
                out.extend(_delta(before[key], value, sub))
        return out
    if before != after:
        if isinstance(before, list) and isinstance(after, list):
            return [{"path": path, "propertyChangeType": "Array", "before": before, "after": after}]
        return [{"path": path, "propertyChangeType": "Modify", "before": before, "after": after}]
    return []


def _status_name(code: int) -> str:
    return {
        400: "BadRequest",
        401: "Unauthorized",
        403: "Forbidden",
        404: "NotFound",
        409: "Conflict",
        413: "RequestEntityTooLarge",
    }.get(code, str(code))


def _op_body(
    inst: Instance,
    state: str,
    status_code: str | None,
    message: JsonObject | None,
    seconds: float,
) -> JsonObject:
    body: JsonObject = {
        "provisioningOperation": "Create",
        "provisioningState": state,
        "timestamp": iso_now(),
        "duration": duration(seconds),
        "trackingId": str(uuid.uuid4()),
        "targetResource": {
            "id": inst.id,
            "resourceType": inst.type,
            "resourceName": inst.name,
            "apiVersion": inst.api_version,
        },
    }
    if status_code is not None:
        body["statusCode"] = status_code
    if message is not None:
        body["statusMessage"] = message
    return body


__all__ = [
    "DeploymentRequestError",
    "Engine",
    "Operation",
    "Outcome",
    "Plan",
    "UnsupportedResource",
    "template_error",
    "template_problem",
]
