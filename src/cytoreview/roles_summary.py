"""The summary of an annotated article: every sentence per role, plus one key sentence per role.

Key-sentence rule (documented in the README, relied on by compact batch views):

* ``key_purpose``: the first sentence anywhere in the abstract that states the article's aim
  in so many words (``PURPOSE_CUE`` and the case-report, "In the present study, we" and "we
  propose a new" wordings) -- reviews often put it last, so position is not trusted -- where
  its role allows an aim (an NLM Background sentence does when there is no purpose
  sentence); wording that is usually something else counts only when nothing better does;
  otherwise an NLM Methods sentence naming the aim; otherwise the purpose sentence the model
  is most confident about (on a tie, the first that reads like research); otherwise "".
* ``key_findings``: the findings sentence richest in results (numbers, percentages, statistics,
  comparisons; ``results_score``), the earliest on a tie, a description of the sample last;
  with no findings sentence, a predicted sentence after the aim that states a result;
  otherwise "".
* ``key_conclusions``: the first conclusions sentence with an explicit conclusion cue ("In
  conclusion", "These findings suggest"; not "further studies are needed"), otherwise the
  first conclusions sentence, limitations and registrations last, copyright lines never;
  otherwise "".
* An inline heading that is a sentence of its own ("Objective.") is never a key sentence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import repeat

from cytoreview.model import ROLES, Article, Role, Sentence, Summary
from cytoreview.roles_cues import (
    AIM_WORD,
    CASE_OR_STUDY_OPENING,
    FURTHER,
    RESEARCHY,
    SECONDARY,
    SHOWN_HERE_OPENING,
    STRONG_AIM,
    concluding,
    conclusion_cue,
    describes_sample,
    is_copyright,
    more_aims,
    not_a_conclusion,
    states_purpose,
    states_result,
    weak_cue,
)

__all__ = ["build_summary", "results_score"]

# Plain substring and word-set tests: a regex alternation per sentence cost more than the model.
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_STAT_MARKS = ("±", "95% ci", "95 % ci", "confidence interval", "odds ratio", "hazard ratio",
               "relative risk")
# "p < 0.05", "r = 0.8", but not "group < 5" or "Mr = ": the letter must stand alone.
_RELATION = re.compile(r"(?<![a-z0-9])[pr] ?[<=>≤]")
_RELATION_GATE = re.compile(r"[<=>≤]")
# Abbreviations count in capitals only: "OR" is an odds ratio, "or" is a conjunction.
_STAT_ABBREVIATIONS = frozenset({"OR", "HR", "RR", "CI", "SD", "AUC", "IQR", "aOR", "aHR"})
_STAT_WORDS = frozenset({"mean", "median", "sensitivity", "specificity"})
_COMPARISON_WORDS = frozenset(
    {"significant", "significantly", "higher", "lower", "greater", "fewer", "more", "less",
     "increased", "decreased", "reduced", "improved", "compared", "versus", "vs", "than",
     "associated", "correlated", "superior", "inferior", "differed", "difference", "differ"}
)
_PUNCT = ",.;:()[]"
# An inline heading the splitter leaves as a sentence of its own ("Objective. We ..." in
# J Neural Eng): never a key sentence, although the purpose cue matches "Objective.".
_HEADING = re.compile(
    r"(?:main |key )?(?:objectives?|aims?|purposes?|background|introduction|context|approach"
    r"|methods?|methodology|design|setting|results?|findings|significance|interpretation"
    r"|conclusions?|summary|video abstract|graphical abstract)\s?[.:]?", re.IGNORECASE)
_HEADING_MAX = 24
_NOT_AIMS = frozenset({"methods", "findings"})
_RESULTS_OF_REVIEWS = frozenset({"Systematic Review", "Meta-Analysis"})

def results_score(text: str) -> float:
    """How much a sentence reads like a result: statistics weigh most, then numbers, comparisons."""
    low = text.lower()
    words = list(map(str.strip, text.split(), repeat(_PUNCT)))
    abbreviations = sum(map(_STAT_ABBREVIATIONS.__contains__, words))
    listed = list(filter(_SCORED_WORDS.__contains__, map(str.lower, words)))
    stat_words = sum(map(_STAT_WORDS.__contains__, listed))
    numbers = min(len(_NUMBER.findall(text)), 8)
    stats = min(_stat_marks(low) + stat_words + abbreviations, 4)
    comparisons = min(len(listed) - stat_words, 4)
    pct = 1 if "%" in text else 0
    return 2.0 * stats + 0.5 * numbers + 1.0 * comparisons + pct


def _stat_marks(low: str) -> int:
    """How many kinds of statistical notation ``low`` (lowercased) holds."""
    found = sum(map(low.__contains__, _STAT_MARKS))
    if _RELATION_GATE.search(low):
        found += min(len(_RELATION.findall(low)), 2)
    return found


_SCORED_WORDS = _STAT_WORDS | _COMPARISON_WORDS


def _aim_cue(s: Sentence, t: str, has_purpose: bool) -> bool | str:
    """Does sentence ``s`` (text ``t``) state the aim? True, "weak" (a cue that is usually
    something else, used when nothing better is there), or False."""
    # A cue inside a sentence labelled by NLM as something else (e.g. "This study shows ..." in
    # RESULTS) is not the purpose: trust the cue where the role is purpose or predicted, and
    # in an NLM Background section when the abstract has no purpose sentence (the aim often
    # closes the background); methods and findings sentences state results, not aims.
    trusted = (s.role == "purpose" or (s.source == "model" and s.role not in _NOT_AIMS)
               or (s.source == "nlm" and s.role == "background" and not has_purpose))
    if not trusted:
        # "We report the case of ...": the model often reads it as methods.
        return s.source == "model" and s.role == "methods" and bool(CASE_OR_STUDY_OPENING.match(t))
    hit: bool | str
    if states_purpose(t):
        hit = "weak" if weak_cue(t) else True
    elif more_aims(t):
        hit = True
    else:
        return False
    if (concluding(t) or (s.role == "conclusions" and SHOWN_HERE_OPENING.match(t))) and (
            not AIM_WORD.search(t)):
        return False
    return hit


def _key_purpose(sentences: Sequence[Sentence], texts: list[str], skip: list[bool],
                 conf: Sequence[float]) -> str:
    has_purpose = any(s.role == "purpose" for s in sentences)
    weak = None
    for i, s in enumerate(sentences):
        if skip[i]:
            continue
        hit = _aim_cue(s, texts[i], has_purpose)
        if hit is True:
            return texts[i]
        if hit and weak is None:
            weak = i
    if weak is not None:
        return texts[weak]
    if not has_purpose:
        return next((texts[i] for i, s in enumerate(sentences)
                     if s.source == "nlm" and s.role == "methods"
                     and STRONG_AIM.search(texts[i])), "")
    purposes = [i for i, s in enumerate(sentences) if s.role == "purpose" and not skip[i]]
    if not purposes:
        return ""
    top = max(conf[i] for i in purposes)
    tied = [i for i in purposes if conf[i] == top]
    aims = [i for i in tied if RESEARCHY.search(texts[i]) and not SECONDARY.search(texts[i])]
    return texts[(aims or tied)[0]]


def _key_findings(sentences: Sequence[Sentence], texts: list[str], skip: list[bool],
                  key_purpose: str, narrative: bool) -> str:
    found = [i for i, s in enumerate(sentences) if s.role == "findings" and not skip[i]]
    if not found and not narrative:
        # The model sometimes reads the results after the aim as background or methods.
        after = next((i for i, s in enumerate(sentences) if s.role in ("purpose", "methods")
                      or (key_purpose and texts[i] == key_purpose)), None)
        if after is not None:
            found = [i for i in range(after + 1, len(sentences))
                     if sentences[i].source == "model"
                     and sentences[i].role in ("background", "methods")
                     and not skip[i] and texts[i] != key_purpose and states_result(texts[i])]
    if len(found) <= 1:
        return texts[found[0]] if found else ""
    scores = [results_score(texts[i]) for i in found]
    ranked = sorted(range(len(found)), key=lambda k: (-scores[k], k))
    # A sentence about the sample comes after every result, whatever its numbers.
    best = next((k for k in ranked if not describes_sample(texts[found[k]])), ranked[0])
    return texts[found[best]]


def _key_conclusions(sentences: Sequence[Sentence], texts: list[str], skip: list[bool]) -> str:
    concl = [i for i, s in enumerate(sentences)
             if s.role == "conclusions" and not skip[i] and not is_copyright(texts[i])]
    concl = [i for i in concl if not not_a_conclusion(texts[i])] or concl
    if not concl:
        return ""
    if len(concl) > 1:
        for i in concl:
            if conclusion_cue(texts[i]) and (
                    not FURTHER.search(texts[i])
                    or conclusion_cue(FURTHER.sub("xx", texts[i]))):
                return texts[i]
    return texts[concl[0]]


def build_summary(
    article: Article, sentences: tuple[Sentence, ...], confidences: Sequence[float] | None = None
) -> Summary:
    """The summary of ``article`` from its ``sentences``; ``confidences``, one per sentence,
    replaces their (rounded) ``confidence`` when choosing the most confident purpose."""
    if not sentences:
        return Summary()
    text = article.abstract
    by_role: dict[Role, list[Sentence]] = {r: [] for r in ROLES}
    for s in sentences:
        by_role[s.role].append(s)

    def joined(role: Role) -> str:
        return " ".join([text[s.start : s.end] for s in by_role[role]])

    def heading(s: Sentence) -> bool:
        # Never a key sentence; still part of the joined texts above.
        return s.end - s.start <= _HEADING_MAX and bool(_HEADING.fullmatch(text, s.start, s.end))

    texts = [text[s.start : s.end] for s in sentences]
    skip = [heading(s) for s in sentences]
    conf = confidences if confidences is not None else [s.confidence for s in sentences]
    key_purpose = _key_purpose(sentences, texts, skip, conf)
    # A narrative review has no results of its own: no sentence stands in for them.
    types = article.publication_types
    narrative = "Review" in types and not _RESULTS_OF_REVIEWS.intersection(types)
    key_findings = _key_findings(sentences, texts, skip, key_purpose, narrative)
    key_conclusions = _key_conclusions(sentences, texts, skip)

    source: str = sentences[0].source
    if any(s.source != source for s in sentences):
        source = "mixed"
    return Summary(
        joined("background"),
        joined("purpose"),
        joined("methods"),
        joined("findings"),
        joined("conclusions"),
        key_purpose,
        key_findings,
        key_conclusions,
        source,
    )
