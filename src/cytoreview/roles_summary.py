"""The summary of an annotated article: every sentence per role, plus one key sentence per role.

Key-sentence rule (documented in the README, relied on by compact batch views):

* ``key_purpose``: the first sentence anywhere in the abstract that states the article's aim in so
  many words (``PURPOSE_CUE``: "This article reviews ...", "We aimed to ...", "The aim of this
  study ...") -- reviews often put it last, so position is not trusted; otherwise the purpose
  sentence the model is most confident about; otherwise "".
* ``key_findings``: the findings sentence richest in results (numbers, percentages, statistics,
  comparisons; ``results_score``), the earliest on a tie; otherwise "".
* ``key_conclusions``: the first conclusions sentence with an explicit conclusion cue ("In
  conclusion", "These findings suggest"), otherwise the first conclusions sentence; otherwise "".
"""

from __future__ import annotations

import re

from cytoreview.model import ROLES, Article, Role, Sentence, Summary
from cytoreview.roles_baseline import CONCLUSION_CUE, PURPOSE_CUE

__all__ = ["build_summary", "results_score"]

_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_STAT = re.compile(
    r"\bp ?[<=>≤≥]|\b(?:95 ?% ?ci|confidence interval|odds ratio|hazard ratio|relative risk|"
    r"\bor\b|\bhr\b|\brr\b|auc|sensitivity|specificity|r ?= ?|mean|median|sd\b|±)",
    re.IGNORECASE,
)
_COMPARISON = re.compile(
    r"\b(?:significant(?:ly)?|higher|lower|greater|fewer|more|less|increased|decreased|reduced|"
    r"improved|compared|versus|vs\.?|than|associated|correlated|superior|inferior|"
    r"differ(?:ed|ence)?)\b",
    re.IGNORECASE,
)


def results_score(text: str) -> float:
    """How much a sentence reads like a result: statistics weigh most, then numbers, comparisons."""
    numbers = min(len(_NUMBER.findall(text)), 8)
    stats = min(len(_STAT.findall(text)), 4)
    comparisons = min(len(_COMPARISON.findall(text)), 4)
    pct = 1 if "%" in text else 0
    return 2.0 * stats + 0.5 * numbers + 1.0 * comparisons + pct


def build_summary(article: Article, sentences: tuple[Sentence, ...]) -> Summary:
    if not sentences:
        return Summary()
    text = article.abstract
    by_role: dict[Role, list[Sentence]] = {r: [] for r in ROLES}
    for s in sentences:
        by_role[s.role].append(s)

    def joined(role: Role) -> str:
        return " ".join(text[s.start : s.end] for s in by_role[role])

    key_purpose = ""
    cued = [s for s in sentences if PURPOSE_CUE.search(text[s.start : s.end])]
    # A cue inside a sentence labelled by NLM as something else (e.g. "This study shows ..." in
    # RESULTS) is not the purpose: trust the cue only where the role is purpose or predicted.
    cued = [s for s in cued if s.role == "purpose" or s.source == "model"]
    if cued:
        key_purpose = text[cued[0].start : cued[0].end]
    elif by_role["purpose"]:
        best = max(by_role["purpose"], key=lambda s: s.confidence)
        key_purpose = text[best.start : best.end]

    key_findings = ""
    if by_role["findings"]:
        scores = [results_score(text[s.start : s.end]) for s in by_role["findings"]]
        best_i = max(range(len(scores)), key=lambda i: (scores[i], -i))
        s = by_role["findings"][best_i]
        key_findings = text[s.start : s.end]

    key_conclusions = ""
    if by_role["conclusions"]:
        concl = by_role["conclusions"]
        cue = [s for s in concl if CONCLUSION_CUE.search(text[s.start : s.end])]
        s = (cue or concl)[0]
        key_conclusions = text[s.start : s.end]

    sources = {s.source for s in sentences}
    source = "mixed" if len(sources) > 1 else next(iter(sources))
    return Summary(
        background=joined("background"),
        purpose=joined("purpose"),
        methods=joined("methods"),
        findings=joined("findings"),
        conclusions=joined("conclusions"),
        key_purpose=key_purpose,
        key_findings=key_findings,
        key_conclusions=key_conclusions,
        source=source,
    )
