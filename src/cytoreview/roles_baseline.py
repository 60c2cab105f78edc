"""The transparent fallback: cue phrases plus position, used when the trained model is missing.

It is also the reference point the trained model has to beat (``benchmarks/roles.py`` scores it).
Confidences are deliberately modest: a cue phrase is right most of the time, position alone much
less often, and the numbers below are roughly what these rules score on structured abstracts.
"""

from __future__ import annotations

import re

from cytoreview.model import Role

__all__ = ["CONCLUSION_CUE", "PURPOSE_CUE", "baseline_predict"]

#: A sentence that states what the article is for, wherever it sits ("This article reviews ...").
PURPOSE_CUE = re.compile(
    r"\b(?:this|the present|the current|our) (?:article|review|paper|study|chapter|report|"
    r"work|manuscript|overview|analysis|investigation|trial)s? (?:\w+ly )?(?:reviews?|describes?|"
    r"discuss(?:es)?|summari[sz]es?|examines?|aims?|aimed|presents?|focus(?:es)?|"
    r"highlights?|explores?|evaluates?|investigates?|assess(?:es)?|outlines?|addresses|was "
    r"(?:designed|conducted|undertaken|performed) to|sought|seeks?)\b"
    # "This review provides an overview" states an aim; "our study provides evidence" a finding.
    r"|\b(?:this|the present|the current|our) (?:article|review|paper|chapter|manuscript|"
    r"overview)s? (?:\w+ly )?provides?\b"
    r"|\b(?:are|is|were) (?:reviewed|discussed|summari[sz]ed|highlighted|described)\b"
    r"|\b(?:highlighted|reviewed|summari[sz]ed|discussed) (?:in|here)\b"
    r"|\b(?:we|the authors) (?:aim(?:ed)?|sought|set out|intend(?:ed)?|wished) to\b"
    r"|\b(?:we|the authors) (?:here )?(?:review|summari[sz]e|discuss|describe|highlight)\b"
    r"|\b(?:aim|purpose|objective|goal)s? (?:of|in) (?:this|the present|our|the current)\b"
    r"|^(?:here(?:in)?|in this (?:study|review|article|paper)),? we\b"
    r"|^(?:to|we aimed to) (?:investigate|evaluate|assess|determine|examine|explore|compare|"
    r"describe|identify|analy[sz]e|characteri[sz]e|test|review|report)\b"
    r"|^(?:objectives?|aims?|purposes?)\b"
    r"|^(?:the|our) (?:main |primary |overall )?(?:aims?|purposes?|objectives?|goals?) "
    r"(?:is|was|are|were) to\b",
    re.IGNORECASE,
)
CONCLUSION_CUE = re.compile(
    r"\b(?:in conclusion|to conclude|we conclude|in summary|taken together|overall, (?:these|our|"
    r"the)|these (?:findings|results|data|observations) (?:\w+ )?(?:suggest|indicate|show|"
    r"demonstrate|support|provide|highlight|imply)|our (?:findings|results|data|study) "
    r"(?:\w+ )?(?:suggest|indicate|show|demonstrate|support|provide|highlight)|further "
    r"(?:studies|research|work|investigation)s? (?:are|is|will be) (?:needed|required|warranted)|"
    r"may (?:be|represent|provide|offer) a (?:useful|novel|promising|potential|valuable))\b",
    re.IGNORECASE,
)
_METHODS_CUE = re.compile(
    r"\b(?:were|was) (?:randomi[sz]ed|enrolled|recruited|included|collected|analy[sz]ed|measured|"
    r"assessed|evaluated|performed|obtained|used|treated|assigned|followed|administered|"
    r"retrospectively|prospectively)|\bwe (?:performed|conducted|used|recruited|enrolled|"
    r"retrospectively|prospectively|analy[sz]ed|searched|collected)\b|\b(?:a|this) "
    r"(?:retrospective|prospective|cross-sectional|randomi[sz]ed|cohort|case-control) ",
    re.IGNORECASE,
)
_FINDINGS_CUE = re.compile(
    r"\bp ?[<=>≤]|\b\d+(?:\.\d+)? ?%|\b(?:significantly|odds ratio|hazard ratio|95% ?ci|"
    r"(?:was|were) (?:higher|lower|increased|decreased|associated|observed|found|reduced))\b",
    re.IGNORECASE,
)


def baseline_predict(sentences: list[str]) -> list[tuple[Role, float]]:
    """Roles of one abstract's sentences, in order, from cue phrases then position."""
    n = len(sentences)
    out: list[tuple[Role, float]] = []
    for i, text in enumerate(sentences):
        rel = i / (n - 1) if n > 1 else 0.5
        if CONCLUSION_CUE.search(text) and rel > 0.3:
            out.append(("conclusions", 0.8))
        elif PURPOSE_CUE.search(text):
            out.append(("purpose", 0.75))
        elif _METHODS_CUE.search(text) and rel < 0.8:
            out.append(("methods", 0.6))
        elif _FINDINGS_CUE.search(text) and rel > 0.2:
            out.append(("findings", 0.6))
        elif n > 2 and i == n - 1:
            out.append(("conclusions", 0.55))
        elif rel < 0.3:
            out.append(("background", 0.45))
        elif rel < 0.5:
            out.append(("methods", 0.35))
        else:
            out.append(("findings", 0.45))
    return out
