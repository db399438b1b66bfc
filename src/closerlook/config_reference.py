"""The configuration reference (docs/configuration.md), generated from the JSON schema so
that it cannot drift from what `closerlook check` enforces: every key with what it allows,
its default and its description; shared definitions ($defs) get a section each.

`python -m closerlook.config_reference > docs/configuration.md` regenerates it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from closerlook.config import load_schema

HEADER = """# Configuration reference

Generated from `workflow/schemas/config.schema.yaml` by
`python -m closerlook.config_reference > docs/configuration.md`; a test keeps the two
equal. Every key is checked before any job runs; a key of a `<name>` row is one you
choose (a run's, an analysis', a curve's name). `closerlook check CONFIG` validates a
file alone and prints what it resolved.
"""


def ref_name(node: Mapping[str, Any]) -> str | None:
    """The $defs entry a node refers to, if it does."""
    ref = node.get("$ref", "")
    return ref.rsplit("/", 1)[1] if ref.startswith("#/$defs/") else None


def value(v: Any) -> str:
    """A default or allowed value as compact inline code."""
    return f"`{json.dumps(v, ensure_ascii=False)}`"


def allowed(node: Mapping[str, Any]) -> str:
    """What a node allows, in a few words: enum, type and bounds, or its alternatives."""
    if ref := ref_name(node):
        return f"see [{ref}](#{ref})"
    if "enum" in node:
        return "one of " + ", ".join(value(v) for v in node["enum"])
    if "const" in node:
        return value(node["const"])
    for key in ("oneOf", "anyOf"):
        if key in node:
            return " or ".join(allowed(alt) for alt in node[key])
    kind = node.get("type", "object" if "properties" in node else "any")
    words = ["/".join(kind) if isinstance(kind, list) else kind]
    if kind == "array" and isinstance(node.get("items"), Mapping):
        words = [f"list of {allowed(node['items'])}"]
    for key, sign in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤")):
        if key in node:
            words.append(f"{sign} {node[key]}")
    if "pattern" in node:
        words.append(f"matching `{node['pattern']}`")
    return " ".join(words)


def one_line(text: str | None) -> str:
    return " ".join((text or "").split()).replace("|", "\\|")


def rows(node: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, str, str, str]]:
    """(key path, allowed, default, description) of `node`'s properties, depth first."""
    for key, child in node.get("properties", {}).items():
        path = f"{prefix}{key}"
        default = value(child["default"]) if "default" in child else ""
        yield path, allowed(child), default, one_line(child.get("description"))
        yield from rows(child, f"{path}.")
        extra = child.get("additionalProperties")
        if isinstance(extra, Mapping):
            yield f"{path}.<name>", allowed(extra), "", one_line(extra.get("description"))
            yield from rows(extra, f"{path}.<name>.")


def table(node: Mapping[str, Any], prefix: str = "") -> list[str]:
    lines = ["| key | allowed | default | description |", "|---|---|---|---|"]
    lines += [f"| `{k}` | {a} | {d} | {t} |" for k, a, d, t in rows(node, prefix)]
    return lines


def reference(schema: Mapping[str, Any]) -> str:
    """The whole reference as Markdown."""
    lines = [HEADER, "## Top level", "", one_line(schema.get("description")), ""]
    lines += table(schema)
    for name, node in schema.get("$defs", {}).items():
        lines += ["", f"## {name}", ""]
        if node.get("description"):
            lines += [one_line(node["description"]), ""]
        if node.get("properties"):
            lines += table(node)
        else:
            lines += [f"Allowed: {allowed(node)}."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(reference(load_schema()), end="")
