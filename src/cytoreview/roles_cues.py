"""Cue phrases for key sentences: does a sentence state the aim, a result, a conclusion, or
something that only looks like one? Plain predicates over one sentence's text, tuned for speed
(they run on every sentence of every abstract); :mod:`cytoreview.roles_summary` applies them."""

from __future__ import annotations

import re
from collections.abc import Callable

from cytoreview.roles_baseline import CONCLUSION_CUE, PURPOSE_CUE

__all__ = [
    "AIM_WORD", "CASE_OR_STUDY_OPENING", "FURTHER", "RESEARCHY", "SECONDARY",
    "SHOWN_HERE_OPENING", "STRONG_AIM", "case_blind", "concluding", "conclusion_cue",
    "describes_sample", "is_copyright", "more_aims", "not_a_conclusion", "states_purpose",
    "states_result", "weak_cue",
]  # fmt: skip

# Aims PURPOSE_CUE does not word (kept apart: PURPOSE_CUE also drives the baseline model):
# case reports, "In the present study, we assessed", "we propose a new ...", papers that
# "attempt to" or "provide".
_CASE_OR_STUDY_AIM = (
    r"^(?:here(?:in)?,? |in this (?:paper|article|report|work|study),? )?we (?:present|report|"
    r"describe) (?:a|an|the|two|three|four|five|\d+|our)\b.{0,80}?\b(?:cases?|patients?|man|"
    r"woman|men|women|boy|girl|male|female|child|children|infant|neonate|siblings?|brothers?|"
    r"sisters?|dogs?|cats?|horses?)\b"
    r"|^(?:this|the present|the current|our) (?:case reports?|case series|cases?(?! reports?\b|"
    r" series\b)|communication|brief communication|commentary|editorial|perspective|protocol|"
    r"letter|short communication)s? (?:\w+ly )?(?:presents?|describes?|reports?|discuss(?:es)?|"
    r"reviews?|summari[sz]es?|provides?|explores?|examines?|aims?|focus(?:es)?|"
    r"outlines?)\b"
    r"|^in (?:the present|the current|this) (?:study|work|report|paper|investigation|analysis|"
    r"research),? (?:we|the authors) (?:(?:first|also|further|then|additionally|now|have) )*"
    r"(?!found|show|observed|demonstrated|confirmed|identified|revealed|report(?:ed)? that|"
    r"discovered|noted|uncovered)\w+"
)
CASE_OR_STUDY_OPENING = re.compile(_CASE_OR_STUDY_AIM, re.IGNORECASE)
# Every alternative of an "opening" pattern starts with ^: they are used with match(), which
# tries the start only (search() would try every position, the costliest part of a summary).
_MORE_AIMS_OPENING = re.compile(
    _CASE_OR_STUDY_AIM
    + r"|^(?:the|this) (?:paper|article|review|manuscript|chapter) (?:attempts|seeks|sets out|"
    r"tries) to\b"
    r"|^the (?:paper|article|review|manuscript|chapter) (?:\w+ly )?(?:provides|presents|"
    r"describes|discusses|reviews|summari[sz]es|examines|explores|investigates|outlines)\b",
    re.IGNORECASE)
def case_blind(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    """``pattern.search`` as a yes/no, on ASCII text run without IGNORECASE on the lowercased
    text: the same answer (the pattern has no capitals) in half the time."""
    plain = re.sub(r"\\.", "", pattern.pattern)
    if any(ch.isupper() for ch in plain) or re.search(r"\\[A-Z]", pattern.pattern):
        return lambda text: bool(pattern.search(text))
    lower = re.compile(pattern.pattern)

    def search(text: str) -> bool:
        if text.isascii():
            return bool(lower.search(text.lower()))
        return bool(pattern.search(text))

    return search


_AIM_OPENERS = ("here", "in ", "we ", "this ", "the ", "our ")  # what those openings start with
_NEW_METHOD = re.compile(r"\bwe (?:propose|introduce|develop|present) (?:a|an) (?:new|novel|"
                         r"simple|general|unified|efficient|generali[sz]ed)\b", re.IGNORECASE)
_PRESENT_AIMS = re.compile(r"\bthe (?:present|current) [\w-]+(?: [\w-]+){0,3} aim(?:s|ed)? to\b",
                           re.IGNORECASE)
# PURPOSE_CUE hits that are no aim, used only when nothing better states one: "Purpose:"
# followed by background, a passive "were described", "we discuss these findings".
_HEADED_OPENING = re.compile(
    r"^(?:objectives?|aims?|purposes?)(?:\s?[:.\-]\s+(?!to\b|the (?:aim|purpose|objective)|this|"
    r"we|our|in this|here)|\s+(?!of\b|to\b|and\b|were\b|was\b|are\b|is\b|[:.\-]))",
    re.IGNORECASE)
_AIMISH = re.compile(
    r"^to\b|\b(?:aim(?:s|ed)?|purpose|objectives?|goal|sought|hypothesi[sz]ed|intend(?:ed)?)\b"
    r"|\bto (?:investigate|evaluate|assess|determine|examine|explore|compare|describe|identify|"
    r"analy[sz]e|characteri[sz]e|test|review|report|estimate|quantify|understand)\b",
    re.IGNORECASE)
_PASSIVE = re.compile(r"\bwere described\b|\bare described (?:as|in)\b", re.IGNORECASE)
_PASSIVE_AIM = re.compile(
    r"^(?:this|these|here|the (?:present|current)|in this)|\b(?:here|herein|in this (?:review|"
    r"article|paper|chapter))\b|\b(?:are|is|were) (?:reviewed|discussed|summari[sz]ed|"
    r"highlighted)\b", re.IGNORECASE)
_DISCUSS_OWN = re.compile(
    r"\bwe (?:also |further |then |briefly )?discuss (?:these|our|the|those) (?:findings|results|"
    r"data|observations|implications)|\bwe discuss (?:the )?(?:implications|limitations|"
    r"relevance|significance) of\b", re.IGNORECASE)
# A purpose cue inside a conclusion is no aim ("this study highlights the importance of",
# "In conclusion, this study ..."), unless the sentence names an aim outright.
_CONCLUDING_OPENING = re.compile(
    r"^(?:the )?(?:(?:clinical|practical|theoretical|policy|research)(?:,? and |, | ))*"
    r"(?:implications|results|findings|"
    r"significance|relevance)\b[^.;]{0,120}\b(?:are|is|were|was) (?:also |further |then |"
    r"briefly )?discussed\b"
    r"|^(?:in conclusion|to conclude|in summary|taken together|collectively|overall),",
    re.IGNORECASE)
_DISCUSSES = re.compile(_DISCUSS_OWN.pattern + r"|\bwe discuss implications\b", re.IGNORECASE)
_HIGHLIGHTS = re.compile(
    r"\bhighlights? (?:the |a )?(?:importance|potential|need|value|usefulness|feasibility|"
    r"utility|significance|promise|relevance)\b", re.IGNORECASE)
SHOWN_HERE_OPENING = re.compile(
    r"^(?:here,? |herein,? |in this (?:study|work|paper),? )?we (?:have )?(?:demonstrated|"
    r"demonstrate|show|showed|shown|found|identified|revealed|report that|provide evidence)\b",
    re.IGNORECASE)
AIM_WORD = re.compile(r"\b(?:aims?|aimed|objectives?|purposes?|goals?)\b", re.IGNORECASE)
# An NLM Methods sentence stating the aim outright: the aim when no sentence is a purpose.
STRONG_AIM = re.compile(
    r"\b(?:aims?|purposes?|objectives?|goals?) (?:of|in) (?:this|the present|our|the current)\b"
    r"|\b(?:this|the present|the current|our) (?:study|work|analysis|investigation|trial|review|"
    r"article|paper) (?:aim(?:s|ed)?|sought|was (?:designed|conducted|undertaken|performed) to|"
    r"explored|examined|investigated|evaluated|assessed)\b"
    r"|\b(?:we|the authors) (?:aim(?:ed)?|sought|set out|intend(?:ed)?) to\b", re.IGNORECASE)
# Equally confident purpose sentences (an NLM Objective section): the first that reads like
# research and is not a secondary aim.
RESEARCHY = re.compile(
    # Not a bare opening "To" ("To do this effectively, ... is necessary").
    _AIMISH.pattern.removeprefix(r"^to\b|")
    + r"|\b(?:we|this (?:study|investigation|work|review|paper|article|analysis))\b"
    r"|\bwere (?:evaluated|assessed|investigated|examined|compared|analy[sz]ed)\b",
    re.IGNORECASE)
SECONDARY = re.compile(r"\b(?:also|additionally|further|furthermore|secondary|secondly)\b",
                        re.IGNORECASE)
# A sentence about the sample (age, follow-up, how many were included) is no result unless it
# also carries one.
_DESCRIPTIVE_OPENING = re.compile(
    r"^(?:results?\s?[:.\-]\s*)?(?:the |our |in (?:the|our) (?:study|sample|cohort),? )?"
    r"(?:overall )?(?:mean|median|average) (?:\(?[±sdiqr ]*\)? )?(?:age|follow-up|followup|"
    r"duration of follow-up|length of (?:stay|follow-up))\b"
    r"|^(?:results?\s?[:.\-]\s*)?(?:the )?(?:patients|participants|subjects|respondents|"
    r"children|women|men|cohort|sample|population)(?: \(n ?= ?[\d,]+\))? (?:had|were|was) "
    r"(?:a )?(?:mean|median|average|aged|predominantly|mostly|majority)\b"
    r"|^(?:results?\s?[:.\-]\s*)?(?:the )?(?:study|sample|cohort|population) (?:included|"
    r"comprised|consisted of)\b"
    r"|^(?:results?\s?[:.\-]\s*)?(?:a total of |in total,? |overall,? |finally,? )?(?:\d[\d,]*|"
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fifteen|twenty|"
    r"thirty|[a-z]+-[a-z]+|[a-z]+ hundred(?: and [a-z-]+)?(?: [a-z-]+)?) (?:[\w-]+ ){0,4}?"
    r"(?:patients|participants|subjects|studies|articles|trials|cases|women|men|children|"
    r"individuals|respondents|eyes|hips|knees|records|papers|publications|rcts|hospitals|"
    r"surgeons)(?: \([^)]{0,120}\))?(?: (?:with|from|who) [^,;]{0,80})? (?:were|was) "
    r"(?:included|enrolled|recruited|identified|eligible|retrieved|selected|randomi[sz]ed)\b"
    r"|^(?:this|the) (?:review|meta-analysis|systematic review|study) included\b"
    r"|^there were no (?:significant )?differences? (?:among|between) (?:the )?groups in "
    r"(?:patient|baseline|demographic)", re.IGNORECASE)
_RESULTISH = re.compile(
    r"(?<![a-z0-9])[pr] ?[<=>≤]|\b(?:OR|HR|RR|aOR|aHR|AUC|AUROC)\b|\bsignificant|\bsensitivity"
    r"|\bspecificity|\b(?:associated|correlated) with\b|\b(?:response|survival|mortality|"
    r"recurrence|remission|success) rates?\b")
# No findings sentence: a predicted background or methods sentence after the aim that states
# a result.
_STATES_RESULT = re.compile(
    r"\b(?:we (?:found|show(?:ed)?|demonstrated?|observed|identified|revealed)|(?:showed|revealed|"
    r"demonstrated|indicated) that|results? (?:showed|revealed|indicated|demonstrated)|"
    r"significant(?:ly)?|p ?[<=>≤]|\d+(?:\.\d+)? ?%|(?<!-)(?:increased|decreased|reduced|improved|"
    r"enhanced|inhibited|suppressed|attenuated|promoted|elevated|lower|higher) )", re.IGNORECASE)
states_result = case_blind(_STATES_RESULT)
conclusion_cue = case_blind(CONCLUSION_CUE)
# "Further studies are needed" is a conclusions sentence, not the take-home one.
FURTHER = re.compile(r"further (?:studies|research|work|investigation)s? (?:are|is|will be) "
                      r"(?:needed|required|warranted)", re.IGNORECASE)
# Never the key conclusion while another conclusions sentence is there: limitations, trial
# registrations, availability lines, citations; a copyright line never at all.
_NOT_A_CONCLUSION_OPENING = re.compile(
    r"^(?:the |this study has |our study has |there are )?(?:(?:main|major|primary|key|potential"
    r"|important|several|some) )?limitations?\b"
    r"|^(?:however,? )?(?:the |this |our )?(?:study|analysis|review|work) (?:is|was) limited by\b"
    r"|^(?:a |the )?(?:small|limited|relatively small) (?:sample size|number of (?:patients|"
    r"participants|cases))(?: (?:is|was|and|could|may)\b|\W*$)"
    r"|^(?:trial )?regist(?:ered|ration)\b", re.IGNORECASE)
_WORD = re.compile(r"\w+")
_NOT_A_CONCLUSION_WORDS = ("clinicaltrials.gov", "prospero", "video abstract", "http", "www.",
                           "available", "et al.")
_NOT_A_CONCLUSION_INSIDE = re.compile(
    r"clinicaltrials\.gov|\bNCT\d{6}|\bPROSPERO\b|\bCRD\d{6}"
    r"|video abstract|https?://|\bwww\.|(?:supplementary|additional) (?:data|material|"
    r"information)s? (?:is|are) available"
    r"|\b(?:is|are) (?:freely |publicly |openly )?available (?:(?:at|from|on|via) (?:https?|www|"
    r"github|gitlab|cran|bioconductor|zenodo|pypi)|(?:up)?on request)", re.IGNORECASE)
_YEAR_AFTER = re.compile(r"\d{4}")
_COPYRIGHT_WORDS = ("all rights reserved", "©", "psycinfo database record")
_COPYRIGHT_YEAR = re.compile(r"\(c\) ?\d{4}", re.IGNORECASE)  # not "(a), (b) and (c)"


def not_a_conclusion(text: str) -> bool:
    if _NOT_A_CONCLUSION_OPENING.match(text):
        return True
    if len(text) <= 80 and len(_WORD.findall(text)) <= 4:  # "Limited sample size."
        return True
    low = text.lower()
    if not any(map(low.__contains__, _NOT_A_CONCLUSION_WORDS)) and not (
            "NCT" in text or "CRD" in text):
        return False
    # A citation ("Smith et al. 2019"): one search for a year after the first "et al.", not
    # a rescan of the rest of the text from each (quadratic on a crafted abstract).
    cited = low.find("et al. ")
    if cited >= 0 and _YEAR_AFTER.search(text, cited):
        return True
    return bool(_NOT_A_CONCLUSION_INSIDE.search(text))


def is_copyright(text: str) -> bool:
    low = text.lower()
    return any(map(low.__contains__, _COPYRIGHT_WORDS)) or (
        "(c)" in low and bool(_COPYRIGHT_YEAR.search(text)))


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


# What IGNORECASE lets match an ASCII letter of the pattern (Python's re documentation):
# the rest of non-ASCII text only needs to stay a word character or not, for \b and \w.
_FOLDS_TO_ASCII = {"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"}
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _stand_in(match: re.Match[str]) -> str:
    ch = match.group()
    return _FOLDS_TO_ASCII.get(ch) or ("_" if ch.isalnum() else "#")


def states_purpose(text: str) -> bool:
    """``PURPOSE_CUE.search(text)``, several times faster. Text with non-ASCII characters is
    asked in an ASCII stand-in that the pattern reads the same way."""
    if _PURPOSE_GATES is None:
        return bool(PURPOSE_CUE.search(text))
    if not text.isascii():
        text = _NON_ASCII.sub(_stand_in, text)
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


def weak_cue(t: str) -> bool:
    """A PURPOSE_CUE hit that is usually no aim: "Purpose:" followed by background, a passive
    "were described", "we discuss these findings"."""
    low = t.lower()
    return bool(
        (_HEADED_OPENING.match(t)
         and not _AIMISH.search(re.sub(r"^\w+\s?[:.\-]?\s+", "", t, count=1)))
        or ("described" in low and _PASSIVE.search(t) and not _PASSIVE_AIM.search(t)
            and not PURPOSE_CUE.search(_PASSIVE.sub("xx", t)))
        or ("discuss" in low and _DISCUSS_OWN.search(t)
            and not PURPOSE_CUE.search(_DISCUSS_OWN.sub("xx", t))))


def concluding(text: str) -> bool:
    """A conclusion's wording ("we discuss these findings", "highlights the importance")."""
    if _CONCLUDING_OPENING.match(text):
        return True
    low = text.lower()
    return bool(("discuss" in low and _DISCUSSES.search(text))
                or ("highlight" in low and _HIGHLIGHTS.search(text)))


def more_aims(text: str) -> bool:
    """An aim worded as :data:`_MORE_AIMS_OPENING` and its two companions have it."""
    low = text.lower()
    if low.startswith(_AIM_OPENERS) and _MORE_AIMS_OPENING.match(text):
        return True
    return bool(("we " in low and _NEW_METHOD.search(text))
                or (" aim" in low and _PRESENT_AIMS.search(text)))


def describes_sample(text: str) -> bool:
    return bool(_DESCRIPTIVE_OPENING.match(text)) and not _RESULTISH.search(text)
