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

DATA = Path("/work/shared/data/pubmed21n1298.train.xml.gz")


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


def load(path: Path = DATA) -> list[Doc]:
    docs = []
    for pmid, abstract, secs in _articles(path):
        if not all(c in NLM_CATEGORY_ROLE for _, _, c in secs):
            continue
        sents = []
        for k, (start, end, cat) in enumerate(secs):
            role = NLM_CATEGORY_ROLE[cat or ""]
            sents.extend((start + s, start + e, role, k) for s, e in split(abstract[start:end]))
        if sents:
            docs.append(Doc(pmid, abstract, tuple(sents)))
    return docs
