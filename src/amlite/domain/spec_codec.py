"""The one codec between a job's wire form and its typed spec (``amlite.domain.specs``).

The wire form is what ``amlite.schemas.parse_job`` answers and the store keeps: the job's
``properties`` in spec casing, absent fields left out. ``decode_job`` reads it into a
``CommandJobSpec`` or ``SweepJobSpec``; ``encode_job`` writes one back, so that
``encode_job(decode_job(wire)) == wire`` for every validated job (key order included): GET
answers the stored form, and specs made by amlite itself (a sweep's trials) are stored
through ``encode_job``.

``decode_job`` checks types as it goes and raises ``SpecError`` (a ValueError) naming the
field, so a stored job that predates a rule fails with a clear reason instead of a
``KeyError`` deep in a consumer. It does not repeat the request's validation rules (ranges,
placeholders, references): those are the schemas' (``amlite.schemas``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar, cast

from amlite.domain.durations import Precision, parse_duration
from amlite.domain.json_value import JsonObject, JsonValue
from amlite.domain.search_space import parse_search_space, to_wire
from amlite.domain.specs import (
    Algorithm,
    AmlToken,
    BanditTermination,
    CommandJobSpec,
    Compute,
    Distribution,
    Duration,
    EarlyTermination,
    Goal,
    Identity,
    InputBinding,
    JobSpec,
    ManagedIdentity,
    MedianStoppingTermination,
    Mpi,
    Objective,
    OutputBinding,
    PyTorch,
    SweepJobSpec,
    TensorFlow,
    TrialComponent,
    TruncationSelectionTermination,
)

T = TypeVar("T")


class SpecError(ValueError):
    """A stored job's wire form does not hold what its field must."""


# -- reading ------------------------------------------------------------------------------


class _Reader:
    """The fields of one wire object, each read once with its type checked."""

    def __init__(self, value: object, at: str) -> None:
        if not isinstance(value, Mapping):
            raise SpecError(f"{at or 'the job'}: must be an object")
        self.data: Mapping[str, object] = value
        self.at = at

    def path(self, key: str) -> str:
        return f"{self.at}.{key}" if self.at else key

    def raw(self, key: str) -> object:
        return self.data.get(key)

    def text(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is not None and not isinstance(value, str):
            raise SpecError(f"{self.path(key)}: must be a string")
        return value

    def required_text(self, key: str) -> str:
        value = self.text(key)
        if value is None:
            raise SpecError(f"{self.path(key)}: is required")
        return value

    def integer(self, key: str) -> int | None:
        value = self.data.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise SpecError(f"{self.path(key)}: must be an integer")
        return value

    def number(self, key: str) -> float | None:
        value = self.data.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise SpecError(f"{self.path(key)}: must be a number")
        return value

    def flag(self, key: str) -> bool | None:
        value = self.data.get(key)
        if value is not None and not isinstance(value, bool):
            raise SpecError(f"{self.path(key)}: must be true or false")
        return value

    def strings(self, key: str) -> dict[str, str] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise SpecError(f"{self.path(key)}: must map strings to strings")
        return dict(value)

    def duration(self, key: str, precision: Precision) -> Duration | None:
        text = self.text(key)
        if text is None:
            return None
        try:
            return Duration(text, parse_duration(text, precision))
        except ValueError as exc:
            raise SpecError(f"{self.path(key)}: {exc}") from None

    def one_of(self, key: str, values: tuple[str, ...]) -> str:
        value = self.required_text(key)
        if value not in values:
            raise SpecError(f"{self.path(key)}: {value!r} is not one of: {', '.join(values)}")
        return value

    def child(self, key: str, read: Callable[[_Reader], T]) -> T | None:
        value = self.data.get(key)
        return None if value is None else read(_Reader(value, self.path(key)))

    def required_child(self, key: str, read: Callable[[_Reader], T]) -> T:
        found = self.child(key, read)
        if found is None:
            raise SpecError(f"{self.path(key)}: is required")
        return found

    def children(self, key: str, read: Callable[[_Reader], T]) -> dict[str, T] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise SpecError(f"{self.path(key)}: must be an object")
        at = self.path(key)
        return {str(name): read(_Reader(item, f"{at}.{name}")) for name, item in value.items()}


def _compute(r: _Reader) -> Compute:
    return Compute(
        instance_count=r.integer("instanceCount"),
        instance_type=r.text("instanceType"),
        is_local=r.flag("isLocal"),
        location=r.text("location"),
        properties=r.strings("properties"),
        target=r.text("target"),
    )


def _distribution(r: _Reader) -> Distribution:
    kind = r.one_of("distributionType", (PyTorch.kind, Mpi.kind, TensorFlow.kind))
    if kind == PyTorch.kind:
        return PyTorch(process_count=r.integer("processCount"))
    if kind == Mpi.kind:
        return Mpi(process_count_per_instance=r.integer("processCountPerInstance"))
    return TensorFlow(
        parameter_server_count=r.integer("parameterServerCount"),
        worker_count=r.integer("workerCount"),
    )


def _identity(r: _Reader) -> Identity:
    kind = r.one_of("identityType", (AmlToken.kind, ManagedIdentity.kind))
    if kind == AmlToken.kind:
        return AmlToken()
    return ManagedIdentity(
        client_id=r.text("clientId"),
        object_id=r.text("objectId"),
        resource_id=r.text("resourceId"),
    )


def _input(r: _Reader) -> InputBinding:
    return InputBinding(
        data_id=r.text("dataId"), mode=r.text("mode"), path_on_compute=r.text("pathOnCompute")
    )


def _output(r: _Reader) -> OutputBinding:
    return OutputBinding(
        datastore_id=r.text("datastoreId"),
        mode=r.text("mode"),
        path_on_compute=r.text("pathOnCompute"),
        path_on_datastore=r.text("pathOnDatastore"),
    )


def _trial(r: _Reader) -> TrialComponent:
    return TrialComponent(
        command=r.required_text("command"),
        code_id=r.text("codeId"),
        distribution=r.child("distribution", _distribution),
        environment_id=r.text("environmentId"),
        environment_variables=r.strings("environmentVariables"),
        input_data_bindings=r.children("inputDataBindings", _input),
        output_data_bindings=r.children("outputDataBindings", _output),
        timeout=r.duration("timeout", "seconds"),
    )


def _objective(r: _Reader) -> Objective:
    goal = cast(Goal, r.one_of("goal", ("Minimize", "Maximize")))
    return Objective(goal=goal, primary_metric=r.required_text("primaryMetric"))


def decode_early_termination(value: object, at: str = "earlyTermination") -> EarlyTermination:
    """A wire ``earlyTermination`` object (canonical ``policyType``) as its typed spec."""
    r = _Reader(value, at)
    kinds = (
        BanditTermination.kind,
        MedianStoppingTermination.kind,
        TruncationSelectionTermination.kind,
    )
    kind = r.one_of("policyType", kinds)
    delay, interval = r.integer("delayEvaluation"), r.integer("evaluationInterval")
    if kind == BanditTermination.kind:
        return BanditTermination(
            delay_evaluation=delay,
            evaluation_interval=interval,
            slack_amount=r.number("slackAmount"),
            slack_factor=r.number("slackFactor"),
        )
    if kind == MedianStoppingTermination.kind:
        return MedianStoppingTermination(delay_evaluation=delay, evaluation_interval=interval)
    return TruncationSelectionTermination(
        delay_evaluation=delay,
        evaluation_interval=interval,
        truncation_percentage=r.integer("truncationPercentage"),
    )


def _command_job(r: _Reader) -> CommandJobSpec:
    return CommandJobSpec(
        description=r.text("description"),
        properties=r.strings("properties"),
        tags=r.strings("tags"),
        code_id=r.text("codeId"),
        command=r.required_text("command"),
        compute=r.required_child("compute", _compute),
        distribution=r.child("distribution", _distribution),
        environment_id=r.text("environmentId"),
        environment_variables=r.strings("environmentVariables"),
        experiment_name=r.text("experimentName"),
        identity=r.child("identity", _identity),
        input_data_bindings=r.children("inputDataBindings", _input),
        output_data_bindings=r.children("outputDataBindings", _output),
        priority=r.integer("priority"),
        timeout=r.duration("timeout", "seconds"),
    )


def _sweep_job(r: _Reader) -> SweepJobSpec:
    raw_space = r.raw("searchSpace")
    if not isinstance(raw_space, Mapping):
        raise SpecError(f"{r.path('searchSpace')}: must be an object")
    try:
        space = parse_search_space(raw_space)
    except ValueError as exc:
        raise SpecError(f"{r.path('searchSpace')}: {exc}") from None
    algorithm = cast(Algorithm, r.one_of("algorithm", ("Grid", "Random", "Bayesian")))
    return SweepJobSpec(
        description=r.text("description"),
        properties=r.strings("properties"),
        tags=r.strings("tags"),
        algorithm=algorithm,
        compute=r.required_child("compute", _compute),
        early_termination=r.child(
            "earlyTermination", lambda c: decode_early_termination(c.data, c.at)
        ),
        experiment_name=r.text("experimentName"),
        identity=r.child("identity", _identity),
        max_concurrent_trials=r.integer("maxConcurrentTrials"),
        max_total_trials=r.integer("maxTotalTrials"),
        objective=r.required_child("objective", _objective),
        priority=r.integer("priority"),
        search_space=space,
        timeout=r.duration("timeout", "minutes"),
        trial=r.required_child("trial", _trial),
    )


def decode_job(wire: Mapping[str, object]) -> JobSpec:
    """The typed spec of a job's wire form; SpecError names the first field that is wrong."""
    r = _Reader(wire, "")
    kind = r.one_of("jobType", (CommandJobSpec.job_type, SweepJobSpec.job_type))
    return _command_job(r) if kind == CommandJobSpec.job_type else _sweep_job(r)


# -- writing ------------------------------------------------------------------------------


def _put(out: JsonObject, key: str, value: JsonValue) -> None:
    if value is not None:
        out[key] = value


def _strings(value: Mapping[str, str] | None) -> JsonObject | None:
    return None if value is None else {k: v for k, v in value.items()}


def _encode_compute(c: Compute) -> JsonObject:
    out: JsonObject = {}
    _put(out, "instanceCount", c.instance_count)
    _put(out, "instanceType", c.instance_type)
    _put(out, "isLocal", c.is_local)
    _put(out, "location", c.location)
    _put(out, "properties", _strings(c.properties))
    _put(out, "target", c.target)
    return out


def encode_distribution(d: Distribution | None) -> JsonObject | None:
    """The wire ``distribution`` object (None for none)."""
    if d is None:
        return None
    out: JsonObject = {"distributionType": d.kind}
    if isinstance(d, PyTorch):
        _put(out, "processCount", d.process_count)
    elif isinstance(d, Mpi):
        _put(out, "processCountPerInstance", d.process_count_per_instance)
    else:
        _put(out, "parameterServerCount", d.parameter_server_count)
        _put(out, "workerCount", d.worker_count)
    return out


def _encode_identity(i: Identity | None) -> JsonObject | None:
    if i is None:
        return None
    out: JsonObject = {"identityType": i.kind}
    if isinstance(i, ManagedIdentity):
        _put(out, "clientId", i.client_id)
        _put(out, "objectId", i.object_id)
        _put(out, "resourceId", i.resource_id)
    return out


def _encode_input(b: InputBinding) -> JsonObject:
    out: JsonObject = {}
    _put(out, "dataId", b.data_id)
    _put(out, "mode", b.mode)
    _put(out, "pathOnCompute", b.path_on_compute)
    return out


def _encode_output(b: OutputBinding) -> JsonObject:
    out: JsonObject = {}
    _put(out, "datastoreId", b.datastore_id)
    _put(out, "mode", b.mode)
    _put(out, "pathOnCompute", b.path_on_compute)
    _put(out, "pathOnDatastore", b.path_on_datastore)
    return out


def _encode_map(
    items: Mapping[str, T] | None, encode: Callable[[T], JsonObject]
) -> JsonObject | None:
    return None if items is None else {name: encode(item) for name, item in items.items()}


def _text(d: Duration | None) -> str | None:
    return None if d is None else d.text


def _encode_trial(t: TrialComponent) -> JsonObject:
    out: JsonObject = {}
    _put(out, "codeId", t.code_id)
    out["command"] = t.command
    _put(out, "distribution", encode_distribution(t.distribution))
    _put(out, "environmentId", t.environment_id)
    _put(out, "environmentVariables", _strings(t.environment_variables))
    _put(out, "inputDataBindings", _encode_map(t.input_data_bindings, _encode_input))
    _put(out, "outputDataBindings", _encode_map(t.output_data_bindings, _encode_output))
    _put(out, "timeout", _text(t.timeout))
    return out


def encode_early_termination(p: EarlyTermination) -> JsonObject:
    out: JsonObject = {}
    _put(out, "delayEvaluation", p.delay_evaluation)
    _put(out, "evaluationInterval", p.evaluation_interval)
    out["policyType"] = p.kind
    if isinstance(p, BanditTermination):
        _put(out, "slackAmount", p.slack_amount)
        _put(out, "slackFactor", p.slack_factor)
    elif isinstance(p, TruncationSelectionTermination):
        _put(out, "truncationPercentage", p.truncation_percentage)
    return out


def encode_job(spec: JobSpec) -> JsonObject:
    """The wire form of ``spec`` (the inverse of ``decode_job``)."""
    out: JsonObject = {}
    _put(out, "description", spec.description)
    _put(out, "properties", _strings(spec.properties))
    _put(out, "tags", _strings(spec.tags))
    out["jobType"] = spec.job_type
    if isinstance(spec, CommandJobSpec):
        _put(out, "codeId", spec.code_id)
        out["command"] = spec.command
        out["compute"] = _encode_compute(spec.compute)
        _put(out, "distribution", encode_distribution(spec.distribution))
        _put(out, "environmentId", spec.environment_id)
        _put(out, "environmentVariables", _strings(spec.environment_variables))
        _put(out, "experimentName", spec.experiment_name)
        _put(out, "identity", _encode_identity(spec.identity))
        _put(out, "inputDataBindings", _encode_map(spec.input_data_bindings, _encode_input))
        _put(out, "outputDataBindings", _encode_map(spec.output_data_bindings, _encode_output))
        _put(out, "priority", spec.priority)
        _put(out, "timeout", _text(spec.timeout))
        return out
    out["algorithm"] = spec.algorithm
    out["compute"] = _encode_compute(spec.compute)
    if spec.early_termination is not None:
        out["earlyTermination"] = encode_early_termination(spec.early_termination)
    _put(out, "experimentName", spec.experiment_name)
    _put(out, "identity", _encode_identity(spec.identity))
    _put(out, "maxConcurrentTrials", spec.max_concurrent_trials)
    _put(out, "maxTotalTrials", spec.max_total_trials)
    out["objective"] = {
        "goal": spec.objective.goal,
        "primaryMetric": spec.objective.primary_metric,
    }
    _put(out, "priority", spec.priority)
    out["searchSpace"] = {name: to_wire(dist) for name, dist in spec.search_space.items()}
    _put(out, "timeout", _text(spec.timeout))
    out["trial"] = _encode_trial(spec.trial)
    return out
