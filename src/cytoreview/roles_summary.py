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

# Plain substring and word-set tests: a regex alternation per sentence cost more than the model.
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_STAT_MARKS = ("p <", "p<", "p =", "p=", "p >", "p ≤", "p≤", "±", "95% ci", "95 % ci",
               "confidence interval", "odds ratio", "hazard ratio", "relative risk", "r =", "auc")
_STAT_WORDS = frozenset({"or", "hr", "rr", "ci", "sd", "mean", "median", "sensitivity",
                         "specificity", "auc", "iqr"})
_COMPARISON_WORDS = frozenset(
    {"significant", "significantly", "higher", "lower", "greater", "fewer", "more", "less",
     "increased", "decreased", "reduced", "improved", "compared", "versus", "vs", "than",
     "associated", "correlated", "superior", "inferior", "differed", "difference", "differ"}
)
_PUNCT = ",.;:()[]"
_NOT_AIMS = frozenset({"methods", "findings"})
# Words without which a sentence cannot match PURPOSE_CUE in practice: the regex then runs on
# a handful of sentences instead of all of them.
_PURPOSE_HINTS = ("review", "aim", "purpose", "objective", "goal", "sought", "here", "summar",
                  "discuss", "describ", "highlight", "to ", "this ", "we ")


def results_score(text: str) -> float:
    """How much a sentence reads like a result: statistics weigh most, then numbers, comparisons."""
    low = text.lower()
    words = [w.strip(_PUNCT) for w in low.split()]
    numbers = min(len(_NUMBER.findall(text)), 8)
    stats = min(sum(m in low for m in _STAT_MARKS) + sum(w in _STAT_WORDS for w in words), 4)
    comparisons = min(sum(w in _COMPARISON_WORDS for w in words), 4)
    pct = 1 if "%" in text else 0
    return 2.0 * stats + 0.5 * numbers + 1.0 * comparisons + pct


def _states_purpose(text: str) -> bool:
    low = text.lower()
    return any(h in low for h in _PURPOSE_HINTS) and bool(PURPOSE_CUE.search(text))


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
    # A cue inside a sentence labelled by NLM as something else (e.g. "This study shows ..." in
    # RESULTS) is not the purpose: trust the cue only where the role is purpose or predicted;
    # methods and findings sentences state results, not aims.
    cued = next(
        (
            s
            for s in sentences
            if (s.role == "purpose" or (s.source == "model" and s.role not in _NOT_AIMS))
            and _states_purpose(text[s.start : s.end])
        ),
        None,
    )
    if cued is not None:
        key_purpose = text[cued.start : cued.end]
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
