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
* An inline heading that is a sentence of its own ("Objective.") is never a key sentence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import repeat

from cytoreview.model import ROLES, Article, Role, Sentence, Summary
from cytoreview.roles_baseline import CONCLUSION_CUE, PURPOSE_CUE

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


# PURPOSE_CUE is one IGNORECASE alternation that the regex engine tries at every position of
# every sentence: it cost more than the role model. For ASCII text the same question is asked
# faster: each top-level alternative runs on the lowercased text (the pattern has no capitals),
# and only where literal words it cannot match without are there. A gate is a group of such
# words and the alternatives it guards, each group searched once per sentence:
# "at": a match can only start where one of the words does (tried there);
# "in": tried only if one of the words occurs; "starts": only if the text starts with one.
# An alternative no gate names always runs, so a change to PURPOSE_CUE can make this slower,
# never different (tests/test_roles.py holds it to PURPOSE_CUE on real and generated text).
_AIM_WORDS = ("aim", "purpose", "objective", "goal")
_PARTICIPLES = ("reviewed", "discussed", "summarized", "summarised", "highlighted", "described")
_GATES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("at", ("this ", "the present ", "the current ", "our "),
     (r"\b(?:this|the present|the current|our) ",)),
    ("at", ("we ", "the authors "), (r"\b(?:we|the authors) ",)),
    ("in", _PARTICIPLES,
     (r"\b(?:are|is|were) (?:reviewed|discussed|summari[sz]ed|highlighted|described)\b",
      r"\b(?:highlighted|reviewed|summari[sz]ed|discussed) (?:in|here)\b")),
    ("in", _AIM_WORDS, (r"\b(?:aim|purpose|objective|goal)s? (?:of|in) ", r"^(?:the|our) ")),
    ("starts", ("here", "in this ", "to ", "we aimed to ", "objective", "aim", "purpose"),
     (r"^(?:here(?:in)?|in this ", r"^(?:to|we aimed to) ", r"^(?:objectives?|aims?|purposes?)\b")),
)  # fmt: skip
_Gate = tuple[str, tuple[str, ...], list[re.Pattern[str]]]


def _top_level_alternatives(pattern: str) -> list[str] | None:
    """``a|b|c`` -> [a, b, c] at nesting depth 0; None if a group other than ``(?:`` occurs."""
    parts: list[str] = []
    depth = start = i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":  # a class ends at the first "]" after its first character
            i = pattern.index("]", i + 2) + 1
            continue
        if ch == "(":
            if pattern[i + 1 : i + 2] == "?" and pattern[i + 2 : i + 3] != ":":
                return None
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    parts.append(pattern[start:])
    return parts


def _purpose_gates() -> list[_Gate] | None:
    """PURPOSE_CUE's alternatives under their gates (ungated ones under an "always" gate), or
    None when the pattern is not of the shape this relies on."""
    pattern = PURPOSE_CUE.pattern
    if PURPOSE_CUE.flags & ~(re.IGNORECASE | re.UNICODE) or re.search(r"\\[0-9]", pattern):
        return None
    if any(ch.isupper() for ch in re.sub(r"\\.", "", pattern)):
        return None
    parts = _top_level_alternatives(pattern)
    if parts is None:
        return None
    gates: list[_Gate] = []
    for kind, needles, prefixes in _GATES:
        guarded = [p for p in parts if p.startswith(prefixes)]
        parts = [p for p in parts if not p.startswith(prefixes)]
        gates.append((kind, needles, [re.compile(p) for p in guarded]))
    gates.append(("always", (), [re.compile(p) for p in parts]))
    return gates


_PURPOSE_GATES = _purpose_gates()


def _states_purpose(text: str) -> bool:
    """``PURPOSE_CUE.search(text)``, several times faster on ASCII text."""
    if _PURPOSE_GATES is None or not text.isascii():
        return bool(PURPOSE_CUE.search(text))
    low = text.lower()
    contains = low.__contains__
    for kind, needles, regexes in _PURPOSE_GATES:
        if not regexes:
            continue
        if kind == "at":
            # Such a match can only start where one of the needles does.
            for needle in needles:
                at = low.find(needle)
                while at >= 0:
                    for regex in regexes:
                        if regex.match(low, at):
                            return True
                    at = low.find(needle, at + 1)
            continue
        if kind == "in" and not any(map(contains, needles)):
            continue
        if kind == "starts" and not low.startswith(needles):
            continue
        for regex in regexes:
            if regex.search(low):
                return True
    return False


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
            and not heading(s)
        ),
        None,
    )
    if cued is not None:
        key_purpose = text[cued.start : cued.end]
    elif purposes := [i for i, s in enumerate(sentences)
                      if s.role == "purpose" and not heading(s)]:
        conf = confidences if confidences is not None else [s.confidence for s in sentences]
        best_i = max(purposes, key=conf.__getitem__)
        key_purpose = text[sentences[best_i].start : sentences[best_i].end]

    key_findings = ""
    findings = [s for s in by_role["findings"] if not heading(s)]
    if len(findings) == 1:
        key_findings = text[findings[0].start : findings[0].end]
    elif findings:
        scores = [results_score(text[s.start : s.end]) for s in findings]
        best_i = max(range(len(scores)), key=lambda i: (scores[i], -i))
        key_findings = text[findings[best_i].start : findings[best_i].end]

    key_conclusions = ""
    concl = [s for s in by_role["conclusions"] if not heading(s)]
    if concl:
        first = concl[0]
        if len(concl) > 1:
            first = next((s for s in concl if CONCLUSION_CUE.search(text[s.start : s.end])), first)
        key_conclusions = text[first.start : first.end]

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
