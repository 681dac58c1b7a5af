"""Command placeholders (amlite.domain.placeholders)."""

from __future__ import annotations

import pytest

from amlite.domain.placeholders import referenced, substitute


def test_substitute_all_forms() -> None:
    cmd = (
        "python train.py --data ${{inputs.data}} --raw {inputs.raw} --out ${{ outputs.model }}"
        " --o2 {outputs.m2} --lr ${{search_space.lr}} --bs {search_space.batch_size}"
    )
    out = substitute(
        cmd,
        {"data": "/in/data", "raw": "/in/my file.csv"},
        {"model": "/out/model", "m2": "/o"},
        {"lr": "0.01", "batch_size": "32"},
    )
    assert out == (
        "python train.py --data /in/data --raw '/in/my file.csv' --out /out/model"
        " --o2 /o --lr 0.01 --bs 32"
    )


def test_unknown_name_raises_keyerror() -> None:
    with pytest.raises(KeyError, match=r"inputs\.missing"):
        substitute("echo ${{inputs.missing}}", {}, {})
    with pytest.raises(KeyError, match=r"search_space\.lr"):
        substitute("echo {search_space.lr}", {}, {})


def test_leaves_other_braces_alone() -> None:
    cmd = "echo ${HOME} {foo} ${{other.x}} $((1+2))"
    assert substitute(cmd, {}, {}) == cmd


def test_referenced() -> None:
    cmd = "a ${{inputs.x}} {inputs.y} ${{outputs.z}} {search_space.lr} {inputs.x}"
    assert referenced(cmd) == {"inputs": {"x", "y"}, "outputs": {"z"}, "search_space": {"lr"}}
    assert referenced("plain") == {"inputs": set(), "outputs": set(), "search_space": set()}
