"""Sentence splitting for biomedical abstracts, with exact character offsets.

``split(text)`` returns ``[(start, end), ...]`` such that ``text[start:end]`` is one sentence
with no surrounding whitespace; the spans are ordered, do not overlap and together cover every
non-space character of ``text``. That contract lets roles be attached to the abstract by offset and
lets a reader rebuild the abstract from its sentences.

The splitter is rule based (it runs on every abstract, so it must be fast and predictable): a
candidate boundary is a ``.``, ``?`` or ``!`` (plus closing quotes/brackets) followed by whitespace
and something that can start a sentence, or a period glued to a capitalised word (``cells.We``).
A candidate is rejected when it sits inside a balanced pair of brackets, or when the token before
it is an abbreviation (``e.g.``, ``et al.``, ``Fig.``), an initial (``D. R. Parkinson``), or when
the next word cannot start a sentence (``E. coli``, ``p. 5``).
"""

from __future__ import annotations

import re
from bisect import bisect_left

__all__ = ["split", "split_text"]

# A period after these never ends a sentence in abstract prose. Units such as "min." or "h." are
# deliberately absent: abstracts often end a sentence on a unit ("for 30 min. Cells were").
_ABBREVIATIONS = frozenset(
    {
        "e.g", "eg", "i.e", "ie", "al", "et al", "vs", "v", "fig", "figs", "approx", "ca", "cf",
        "dr", "mr", "mrs", "ms", "prof", "st", "resp", "ref", "refs", "eq", "eqs", "vol", "pp",
        "incl", "viz", "sect", "tab", "suppl", "corp", "inc", "ltd", "jr", "sr", "dept", "univ",
        "mt", "ft", "nr", "cit", "op",
    }
)
# These are abbreviations only before a number ("no. 5", "vol. 3"); elsewhere they are words.
_NUMBER_ABBREVIATIONS = frozenset({"no", "nos", "n", "p", "pg", "chap", "ch", "art", "sec"})

# Candidate: terminal punctuation, optional closers, then whitespace + a plausible sentence start,
# or (glued case) directly a capital followed by a lowercase letter.
_CANDIDATE = re.compile(
    # A match starts only at the first of a run of "....": without the look-behind each
    # position of a 10,000-dot run was tried again, quadratic (1.5 s; 100,000 dots 166 s).
    # It follows the first character so the pattern still starts with a class, which the
    # regex engine scans for quickly (leading, it made every abstract 35% slower to split).
    r"[.?!](?<![.?!]{2})[.?!]*[\"'”’)\]]*"
    r"(?:(?P<space>\s+)(?=[(\[\"'“‘]?[A-Z0-9\u0391-\u03c9])"
    r"|(?P<space2>\s+)(?=[a-z]+[A-Z0-9-])"
    r"|(?=[A-Z][a-z]))"
)
_INITIALS = re.compile(r"^(?:[A-Za-z]\.)+[A-Za-z]$")
_SINGLE_CAPITAL = re.compile(r"^[A-Z]$")
_PREV_INITIAL = re.compile(r"(?:^|[\s(])[A-Z]\.\s*[A-Z]\.$")
_NEXT_INITIAL = re.compile(r"[A-Z]\.\s")
_HYPHENATED = re.compile(r"\s*[a-z]+-")
_LOWER_START_OK = re.compile(r"[a-z0-9%)]$")
_GLUED_LEFT = re.compile(r"[a-z\u03b1-\u03c9]{2}\)?$|[0-9%]\)$")
_BRACKETS = re.compile(r"[()\[\]]")
_OPEN = {"(": ")", "[": "]"}
_CLOSE = {")": "(", "]": "["}
# A bracket left open this far is taken to be a stray (typo, enumeration "1)"), not a real group;
# suppressing boundaries across the rest of the abstract would be worse than an odd split.
_MAX_BRACKET_SPAN = 400


def _bracket_mask(text: str) -> list[tuple[int, int]]:
    """Interior spans of balanced bracket pairs: boundaries there are suppressed."""
    if "(" not in text and "[" not in text:
        return []
    stack: list[tuple[str, int]] = []
    # Where each kind of opener sits in the stack, so that a closer finds its opener without
    # walking the stack (a run of unmatched closers made that quadratic: 80,000 chars, 42 s).
    where: dict[str, list[int]] = {"(": [], "[": []}
    spans: list[tuple[int, int]] = []
    for m in _BRACKETS.finditer(text):
        i, ch = m.start(), m.group()
        if ch in _OPEN:
            where[ch].append(len(stack))
            stack.append((ch, i))
            continue
        # Pop to the matching opener; unmatched closers ("1) ... 2)") are ignored.
        mine = where[_CLOSE[ch]]
        if not mine:
            continue
        k = mine.pop()
        start = stack[k][1]
        del stack[k:]
        other = where["[" if ch == ")" else "("]
        while other and other[-1] >= k:
            other.pop()
        if i - start <= _MAX_BRACKET_SPAN:
            spans.append((start, i))
    return spans


def _merged(spans: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """Open intervals (a, b) merged where they overlap, as sorted starts and ends, so that
    "a < pos < b for some span" is one bisection (a long abstract has thousands of them)."""
    starts: list[int] = []
    ends: list[int] = []
    for a, b in sorted(spans):
        if ends and a < ends[-1]:
            ends[-1] = max(ends[-1], b)
        else:
            starts.append(a)
            ends.append(b)
    return starts, ends


def _is_boundary(text: str, match: re.Match[str], space: str | None, space2: str | None) -> bool:
    start = match.start()
    glued = space is None and space2 is None
    if text[start] != ".":
        return not glued
    if glued:
        # "cells.We" yes; "E.Coli", "U.S.A" and "Fig.3" no: the left side must end a real word.
        return bool(_GLUED_LEFT.search(text[max(0, start - 3) : start]))
    window = text[max(0, start - 40) : start].rsplit(None, 1)
    token = window[-1].lstrip("([\"'“‘") if window else ""
    low = token.lower()
    if low in _ABBREVIATIONS or low.rstrip(".") in _ABBREVIATIONS:
        return False
    if low in _NUMBER_ABBREVIATIONS and text[match.end() : match.end() + 1].isdigit():
        return False
    # The cheap tests first: _INITIALS needs "X." in front, _SINGLE_CAPITAL one character.
    if len(token) > 2 and token[1] == "." and _INITIALS.match(token):
        return False
    if len(token) == 1 and _SINGLE_CAPITAL.match(token):
        if space2 is not None and _HYPHENATED.match(text, match.end()):
            return False  # a genus initial: "E. coli-derived", "S. aureus-specific"
        # "D. R. Parkinson": an initial after an initial is a name, but "vitamin D. We" ends.
        prev_initial = bool(_PREV_INITIAL.search(text[max(0, start - 6) : start + 1]))
        return not prev_initial and not _next_is_initial(text, match.end())
    if space2 is not None:
        # Lowercase-initial start ("mRNA levels", "p53 was"): trust only after a plain word.
        return bool(_LOWER_START_OK.search(token)) and len(token) > 1
    if token.isdigit() and len(token) <= 2 and _starts_sentence(text, start - len(token)):
        return False  # a list number ("seen. 2. Cells died."): it belongs to what follows
    # "P=. 001"-style breaks and a bare period are not sentence ends.
    return token != "" and token[-1] not in "=<>"


def _starts_sentence(text: str, pos: int) -> bool:
    before = text[max(0, pos - 12) : pos].rstrip()
    if before[-1:] == ":":
        # "topics: 1. How" is a list; "a ratio of 2 : 1. Overall" is a number.
        return not before[:-1].rstrip()[-1:].isdigit()
    if before[-1:] == ".":
        # "seen. 2. Cells" is a list; "in Fig. 2. The" and "Yellow No. 6. Each" are not.
        word = before.rsplit(None, 1)[-1].lstrip("([\"'“‘").lower().rstrip(".")
        return word not in _ABBREVIATIONS and word not in _NUMBER_ABBREVIATIONS
    return not before or before[-1] in "?!;"


def _next_is_initial(text: str, pos: int) -> bool:
    return bool(_NEXT_INITIAL.match(text, pos))


def split(text: str) -> list[tuple[int, int]]:
    """Sentence spans of ``text``: ``text[s:e]`` is a sentence, stripped of whitespace."""
    cuts: list[int] = []
    candidates = list(_CANDIDATE.finditer(text))
    starts: list[int] = []
    ends: list[int] = []
    if candidates:
        # Only a candidate between the first opening and the last closing bracket can be
        # inside a pair: most abstracts have none there, and skip the bracket walk.
        a, b = text.find("("), text.find("[")
        first = a if b < 0 else b if a < 0 else min(a, b)
        last = max(text.rfind(")"), text.rfind("]"))
        if first >= 0 and any(first < m.start() < last for m in candidates):
            starts, ends = _merged(_bracket_mask(text))
    for m in candidates:
        if starts:
            pos = m.start()
            # Inside a bracket pair: the last merged span opening before pos, if it is open.
            k = bisect_left(starts, pos) - 1
            if k >= 0 and pos < ends[k]:
                continue
        space, space2 = m.group("space", "space2")
        if _is_boundary(text, m, space, space2):
            # Cut after the punctuation and closers, before the whitespace.
            cuts.append(m.end() - len(space or space2 or ""))
    cuts.append(len(text))
    out: list[tuple[int, int]] = []
    prev = 0
    for cut in cuts:
        piece = text[prev:cut]
        # str.strip() and str.isspace() agree on what whitespace is.
        body = piece.lstrip()
        if body:
            start = prev + len(piece) - len(body)
            out.append((start, start + len(body.rstrip())))
        prev = cut
    return out


def split_text(text: str) -> list[str]:
    """The sentences themselves (convenience for evaluation and tests)."""
    return [text[s:e] for s, e in split(text)]
