"""The labelled corpus for the role model: fully structured abstracts from the shared PubMed file.

Used by ``scripts/train_roles.py`` and ``benchmarks/roles.py`` so both see the same sentences and
the same train / calibration / dev split. An abstract qualifies when every ``AbstractText`` has an
NlmCategory among the five that map to a role; each sentence takes its section's role.

Split by PMID so it is stable across runs and machines: ``pmid % 7 == 0`` is dev (never trained
on, reported), ``pmid % 7 == 1`` is the calibration part (temperature fitting only), the rest is
training. The hidden evaluation set (PMIDs that are multiples of 5) is not in the shared file.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cytoreview.model import NLM_CATEGORY_ROLE, Role
from cytoreview.sentences import split

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "pubmed21n1298.train.xml.gz"


@dataclass(frozen=True)
class Doc:
    pmid: str
    abstract: str
    # (start, end, role, section index) per sentence, offsets into ``abstract``.
    sentences: tuple[tuple[int, int, Role, int], ...]

    def texts(self) -> list[str]:
        return [self.abstract[s:e] for s, e, _, _ in self.sentences]

    def roles(self) -> list[Role]:
        return [r for _, _, r, _ in self.sentences]

    def section_ids(self) -> list[int]:
        return [k for _, _, _, k in self.sentences]


def part(pmid: str) -> str:
    k = int(pmid) % 7
    return "dev" if k == 0 else "calib" if k == 1 else "train"


def _articles(path: Path) -> Iterator[tuple[str, str, list[tuple[int, int, str | None]]]]:
    """(pmid, abstract, [(start, end, category), ...]) per record with abstract text."""
    from cytoreview.parse import iter_articles

    with gzip.open(path) as fh:
        for art in iter_articles(fh, str(path)):
            secs = [(s.start, s.end, s.category) for s in art.sections if s.text]
            if secs:
                yield art.pmid, art.abstract, secs


def load(path: Path = DATA, only: str | None = None, limit: int | None = None) -> list[Doc]:
    """The fully labelled abstracts, optionally only one part and at most ``limit`` of them."""
    docs: list[Doc] = []
    for pmid, abstract, secs in _articles(path):
        if limit is not None and len(docs) >= limit:
            break
        if only is not None and part(pmid) != only:
            continue
        if not all(c in NLM_CATEGORY_ROLE for _, _, c in secs):
            continue
        sents: list[tuple[int, int, Role, int]] = []
        for k, (start, end, cat) in enumerate(secs):
            role = NLM_CATEGORY_ROLE[cat or ""]
            sents.extend((start + s, start + e, role, k) for s, e in split(abstract[start:end]))
        if sents:
            docs.append(Doc(pmid, abstract, tuple(sents)))
    return docs


NARRATIVE_EXCLUDE = {"Systematic Review", "Meta-Analysis"}


def weak_review_roles(sentences: list[str]) -> list[Role]:
    """Roles for a narrative review abstract, which has no methods or results of its own.

    Everything is background except a sentence stating the article's aim ("This article reviews
    ...", "... are reviewed") -- purpose -- and the closing sentence (or a late one with an
    explicit conclusion cue) -- conclusions. This is a weak label: it teaches the model what a
    review reads like; it is never used for evaluation.
    """
    from cytoreview.roles_baseline import CONCLUSION_CUE, PURPOSE_CUE

    n = len(sentences)
    out: list[Role] = []
    for i, s in enumerate(sentences):
        if PURPOSE_CUE.search(s):
            out.append("purpose")
        elif n >= 3 and (i == n - 1 or (i >= 2 * n / 3 and CONCLUSION_CUE.search(s))):
            out.append("conclusions")
        else:
            out.append("background")
    return out


def load_reviews(path: Path = DATA) -> list[Doc]:
    """Unstructured abstracts of narrative reviews (publication type Review, not systematic),
    weakly labelled by :func:`weak_review_roles`."""
    from cytoreview.parse import iter_articles

    docs = []
    with gzip.open(path) as fh:
        for art in iter_articles(fh, str(path)):
            types = set(art.publication_types)
            if "Review" not in types or types & NARRATIVE_EXCLUDE or not art.abstract:
                continue
            if any(s.category for s in art.sections):
                continue
            spans = split(art.abstract)
            if len(spans) < 2:
                continue
            roles = weak_review_roles([art.abstract[s:e] for s, e in spans])
            sents = tuple((s, e, r, 0) for (s, e), r in zip(spans, roles, strict=True))
            docs.append(Doc(art.pmid, art.abstract, sents))
    return docs
