"""What a claim of findings.md is (closerlook.claims registers them): what it says, the paper
finding it tests and whether supporting it speaks for or against that finding or only gives
context (`polarity`), how its effect is read (positive or non-inferior, with the accuracy,
the similarity or no margin), and the preconditions it needs (closerlook.preconditions).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from closerlook.decision import POSITIVE, Rule
from closerlook.effects import Measured, Settings
from closerlook.evidence import Evidence

PAPER_FINDINGS = {
    "a": "restarts are not explained by escaping barriers",
    "b": "warmup keeps the deeper layers from changing too much; freezing them does too",
    "c": "distillation's knowledge lands in the deeper layers",
    "d": "shallow layers are more alike across networks than deeper ones",
    "e": "different optima are joined by low-loss curves",
}
FOR, AGAINST, CONTEXT = "for", "against", "context"
ACCURACY, SIMILARITY, NONE = "accuracy", "similarity", "none"


@dataclass(frozen=True)
class Claim:
    """One claim: what it says, the paper finding it tests and whether supporting it speaks
    for or against that finding (or is context), how its effect is read, and what must
    hold before it can be tested."""

    id: str
    paper: str
    statement: str
    effect: str
    what: str
    opposite: str
    measure: Callable[[Evidence, Settings, str | None], Measured]
    kind: str = POSITIVE
    margin: str = ACCURACY
    similarity: bool = False
    depth: bool = False  # read on a depth partition: sensitivity rows apply
    polarity: str = FOR
    requires: tuple[str, ...] = ()

    @property
    def question(self) -> str:
        return self.id.split(".")[0]

    def rule(self, s: Settings) -> Rule:
        m = {ACCURACY: s.accuracy_margin, SIMILARITY: s.similarity_margin, NONE: 0.0}
        return Rule(self.kind, m[self.margin])


CLAIMS: dict[str, Claim] = {}


def claim_order(cid: str) -> tuple[int, int]:
    """RQ2.10 after RQ2.9: (question, number) of a claim id "RQq.n"."""
    q, n = cid.removeprefix("RQ").split(".")
    return int(q), int(n)


def claim(cid: str, paper: str, statement: str, effect: str, what: str, opposite: str, **kw):
    """Register the decorated function as claim `cid` (keywords: Claim's fields)."""
    if kw.get("similarity"):
        kw.setdefault("margin", SIMILARITY)

    def register(fn: Callable[[Evidence, Settings, str | None], Measured]):
        CLAIMS[cid] = Claim(cid, paper, statement, effect, what, opposite, fn, **kw)
        ordered = sorted(CLAIMS.items(), key=lambda item: claim_order(item[0]))
        CLAIMS.clear()
        CLAIMS.update(ordered)  # in the claims' order, whichever module registered them
        return fn

    return register
