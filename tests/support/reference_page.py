"""The reference page's Bicep and Terraform resource snippets, with their placeholders filled.

The page shows one resource with ``// For remaining properties, see X objects`` holes and a
list of variants per object kind (``For Command, use: {...}``). ``snippet()`` takes the
resource, replaces each hole by the chosen variant's members (dropping the ``'string'``
discriminator line above the hole), and fills ``'string'``/``int``/``bool`` and
``{customized property}`` placeholders with plain values.
"""

from __future__ import annotations

import re

from support.shared import SEED_PAGE

SECTIONS = {
    "bicep": ("Bicep resource definition", "ARM template resource definition"),
    "arm": ("ARM template resource definition", "Terraform (AzAPI provider) resource definition"),
    "terraform": ("Terraform (AzAPI provider) resource definition", "Property values"),
}
DEFAULT_VARIANTS = {
    "JobBase": "Command",
    "DistributionConfiguration": "PyTorch",
    "IdentityConfiguration": "AMLToken",
    "EarlyTerminationPolicy": "Bandit",
}


def _block(lines: list[str], start: int) -> tuple[list[str], int]:
    """The lines of the brace block opening at ``lines[start]`` (inclusive) and the next index."""
    depth = 0
    for i in range(start, len(lines)):
        depth += lines[i].count("{") - lines[i].count("}")
        if depth == 0:
            return lines[start : i + 1], i + 1
    raise ValueError("unbalanced block on the reference page")


def _section(kind: str) -> list[str]:
    text = SEED_PAGE.read_text(encoding="utf-8")
    begin, end = SECTIONS[kind]
    start = text.index(begin)
    return text[start : text.index(end, start + 1)].splitlines()


def snippet(kind: str, variants: dict[str, str] | None = None) -> str:
    """The resource snippet of ``kind`` ('bicep', 'arm' or 'terraform'), holes and placeholders
    filled (the ARM one is the JSON text of the resource object)."""
    chosen = {**DEFAULT_VARIANTS, **(variants or {})}
    lines = _section(kind)
    start = "{" if kind == "arm" else "resource "
    first = next(i for i, ln in enumerate(lines) if ln.startswith(start))
    resource, _ = _block(lines, first)

    def variant(objects: str) -> list[str]:
        head = lines.index(f"{objects} objects")
        at = lines.index(f"For {chosen[objects]}, use:", head)
        body, _ = _block(lines, at + 1)
        return body[1:-1]

    def expand(block: list[str]) -> list[str]:
        out: list[str] = []
        for ln in block:
            m = re.match(r"\s*// For remaining properties, see (\w+) objects", ln)
            if m:
                out.pop()  # the discriminator placeholder line above the hole
                out += expand(variant(m.group(1)))  # the variant sets the discriminator itself
            else:
                out.append(ln)
        return out

    text = "\n".join(expand(resource))
    text = text.replace("{customized property}", "key1")
    text = re.sub(r"([:=]) int$", r"\1 1", text, flags=re.M)
    text = re.sub(r"([:=]) bool$", r"\1 false", text, flags=re.M)
    text = text.replace(
        "any(Azure.Bicep.Types.Concrete.AnyType)", "'any'"
    )  # Bicep: an untyped value
    text = re.sub(r"= \?$", '= "any"', text, flags=re.M)  # Terraform: an untyped value
    text = re.sub(r'(: )"int"(,?)$', r"\g<1>1\2", text, flags=re.M)  # ARM: typed placeholders
    text = re.sub(r'(: )"bool"(,?)$', r"\g<1>false\2", text, flags=re.M)
    return text + "\n"
