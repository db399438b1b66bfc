"""findings.json: the same evaluation as findings.md, machine-readable, with a schema; and
the combined verdict of each paper finding under its stated rule."""

from __future__ import annotations

import json

import pytest

from closerlook import config, findings, findings_doc, replicates, resolved
from closerlook.claims import AGAINST, CLAIMS, CONTEXT, FOR, PAPER_FINDINGS
from closerlook.decision import CONTRADICTS, INCONCLUSIVE, NOT_TESTABLE, SUPPORTS, VERDICTS
from closerlook.effects import Settings

from support import METHODS, paper_like

CLAIM_KEYS = {
    "id", "finding", "statement", "polarity", "kind", "margin", "seeds", "effect", "interval",
    "per_seed", "verdict", "reason", "speaks", "by_measure", "layers", "sensitivity",
    "barriers", "preconditions", "seeds_needed", "would", "numbers",
}  # fmt: skip
BARRIER_KEYS = {
    f"{path}_{kind}_{split}"
    for path in ("line", "curve")
    for kind in ("error", "loss")
    for split in ("train", "val")
}


@pytest.fixture
def design(embedded_config) -> list[str]:
    return replicates.design(config.validate(embedded_config))


@pytest.fixture
def found(embedded_config):
    q = resolved.resolved_questions(config.validate(embedded_config))
    return findings.all_findings(paper_like(q, seeds=(0, 1, 2), methods=METHODS), Settings())


def test_the_json_has_every_claim_with_the_schema_s_keys(found, design, tmp_path):
    md, js = tmp_path / "findings.md", tmp_path / "findings.json"
    findings_doc.write(found, md, js, Settings(), "embedded", "dft_svcca", design=design)
    doc = findings_doc.load(js)
    assert doc["kind"] == "findings" and doc["schema_version"] == findings_doc.SCHEMA_VERSION
    # the design of replicates, in both renderings: which runs are paired, which independent
    assert doc["design"] == design and any("paired" in line for line in design)
    assert "## Design" in md.read_text() and all(line in md.read_text() for line in design)
    assert doc["settings"]["margin"] == {"accuracy": 0.01, "similarity": 0.02}
    assert [c["id"] for c in doc["claims"]] == list(CLAIMS)
    for c in doc["claims"]:
        assert set(c) == CLAIM_KEYS, c["id"]
        spec = CLAIMS[c["id"]]
        assert c["finding"] == spec.paper and c["kind"] == spec.kind
        assert c["verdict"] in VERDICTS and c["seeds"] == 3
        lo, hi = c["interval"]
        assert lo <= c["effect"] <= hi
        assert isinstance(c["seeds_needed"], int) and c["would"] in (SUPPORTS, CONTRADICTS)
        assert [p["name"] for p in c["preconditions"]] == list(spec.requires)
        for p in c["preconditions"]:
            assert set(p) == {"name", "requires", "value", "threshold", "holds"} and p["holds"]
        if spec.similarity:
            assert set(c["by_measure"]) == set(METHODS)
        if spec.depth:
            assert c["layers"]["shallow"] and c["layers"]["deeper"]
            assert "logits" not in c["layers"]["deeper"] or spec.question == "RQ2"
            assert len(c["sensitivity"]) == 2
        else:
            assert c["layers"] is None and c["sensitivity"] == []
        if c["id"] in ("RQ1.1", "RQ1.2", "RQ4.4"):  # over several curves: by name
            assert {k.split(".")[1] for k in c["barriers"]} == BARRIER_KEYS
            assert all(len(v) == 3 for v in c["barriers"].values())
        elif c["id"] == "RQ4.3":
            assert (
                set(c["barriers"]) == BARRIER_KEYS and len(c["barriers"]["line_error_train"]) == 3
            )
        else:
            assert c["barriers"] is None
    assert set(doc["findings"]) == set(PAPER_FINDINGS)
    assert all(f["verdict"] == findings.SUPPORTED for f in doc["findings"].values())
    # one evaluation, two renderings: the verdicts agree line by line
    text = md.read_text()
    for c in doc["claims"]:
        assert f"| {c['id']} | ({c['finding']}) | **{c['verdict']}** |" in text
    json.dumps(doc, allow_nan=False)  # plain JSON, no NaN or Infinity


def _with(found, verdicts: dict[str, str]):
    for f in found:
        if f.claim_id in verdicts:
            f.decision.verdict = verdicts[f.claim_id]
    return found


@pytest.mark.parametrize(
    ("verdicts", "expected"),
    [
        ({}, findings.SUPPORTED),
        ({"RQ4.1": CONTRADICTS}, findings.MIXED),  # RQ4.2 still speaks for (d)
        ({"RQ4.1": CONTRADICTS, "RQ4.2": CONTRADICTS}, findings.CONTRADICTED),
        ({"RQ4.1": INCONCLUSIVE, "RQ4.2": CONTRADICTS}, findings.CONTRADICTED),
        ({"RQ4.1": INCONCLUSIVE, "RQ4.2": INCONCLUSIVE}, INCONCLUSIVE),
        ({"RQ4.1": NOT_TESTABLE, "RQ4.2": NOT_TESTABLE}, "not testable here"),
        ({"RQ4.1": NOT_TESTABLE, "RQ4.2": SUPPORTS}, findings.SUPPORTED),
    ],
)
def test_the_combined_verdict_of_a_finding(found, verdicts, expected):
    assert findings.finding_verdict(_with(found, verdicts), "d") == expected


def test_context_claims_speak_neither_way_and_polarity_flips_a_verdict(found):
    rq14 = next(f for f in found if f.claim_id == "RQ1.4")
    assert CLAIMS["RQ1.4"].polarity == CONTEXT and rq14.speaks == "neither"
    # a context claim contradicting does not move its finding
    assert findings.finding_verdict(_with(found, {"RQ1.4": CONTRADICTS}), "a") == findings.SUPPORTED
    rq13 = next(f for f in found if f.claim_id == "RQ1.3")
    assert rq13.speaks == "for"
    object.__setattr__(CLAIMS["RQ1.3"], "polarity", AGAINST)
    try:
        assert rq13.speaks == "against"
        assert findings.finding_verdict(found, "a") == findings.CONTRADICTED
    finally:
        object.__setattr__(CLAIMS["RQ1.3"], "polarity", FOR)
