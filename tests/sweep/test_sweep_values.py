"""Value helpers: stable hashing, quantization, formatting for command substitution."""

from __future__ import annotations

from amlite.sweep import format_value, substitutions, sweep_seed
from amlite.sweep.parameter_values import quantize, stable_int, trial_rng


def test_sweep_seed_is_stable_across_processes() -> None:
    # Pinned: a change here would change every resumed sweep's stream.
    assert sweep_seed("sweep_abc") == 6915604793397034369
    assert sweep_seed("sweep_abc") != sweep_seed("sweep_abd")
    assert 0 <= sweep_seed("x") < 2**63


def test_trial_rng_is_pinned_and_keyed_by_seed_index_and_name() -> None:
    assert trial_rng(42, 0, "lr").random() == 0.1183791999062298
    draws = {
        trial_rng(42, 0, "lr").random(),
        trial_rng(42, 1, "lr").random(),
        trial_rng(43, 0, "lr").random(),
        trial_rng(42, 0, "momentum").random(),
    }
    assert len(draws) == 4
    assert stable_int("a", 1) == stable_int("a", 1) != stable_int("a", 2)


def test_quantize() -> None:
    assert quantize(0.3000000001, 0.1) == 0.3  # decimal product, no 0.30000000000000004
    assert repr(quantize(0.29, 0.1)) == "0.3"
    assert quantize(7.2, 2) == 8 and isinstance(quantize(7.2, 2), int)
    assert quantize(5.0, 2) == 4  # round(2.5) = 2: half to even
    assert quantize(-3.1, 1.0) == -3 and isinstance(quantize(-3.1, 1.0), int)
    assert quantize(0.04, 0.1) == 0.0  # not clamped to the range


def test_format_value() -> None:
    assert format_value(3) == "3"
    assert format_value(0.1) == "0.1"
    assert format_value(1e-05) == "1e-05"
    assert format_value(2.0) == "2.0"
    assert format_value("adam") == "adam"
    assert format_value(True) == "True"
    assert format_value(None) == "None"
    assert format_value([1, 2]) == "[1, 2]"
    assert format_value({"type": "svm", "C": 0.5}) == '{"type": "svm", "C": 0.5}'


def test_substitutions_reach_nested_keys() -> None:
    params = {"lr": 0.01, "model": {"type": "svm", "kernel": {"name": "rbf", "gamma": 2}}}
    assert substitutions(params) == {
        "lr": "0.01",
        "model": '{"type": "svm", "kernel": {"name": "rbf", "gamma": 2}}',
        "model.type": "svm",
        "model.kernel": '{"name": "rbf", "gamma": 2}',
        "model.kernel.name": "rbf",
        "model.kernel.gamma": "2",
    }
