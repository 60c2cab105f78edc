"""The wire format between worker processes and the parent: records as plain tuples.

Pickling the frozen dataclasses goes through dataclasses' Python __getstate__/__setstate__
and costs more than parsing the record did. Plain tuples pickle in C; the parent rebuilds the
objects with their constructors, about three times cheaper end to end.

:func:`encode_articles` (in a worker) turns records into nested lists and tuples of plain
values; :func:`decode_articles` (in the parent) rebuilds the same records from them.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from typing import Any

from cytoreview.model import (
    Article,
    Author,
    Chemical,
    CommentCorrection,
    MeshHeading,
    MeshQualifier,
    OtherAbstract,
    Section,
    Sentence,
    Summary,
)

__all__ = ["decode_articles", "encode_articles"]


def _getter(cls: type) -> Callable[[Any], tuple[Any, ...]]:
    return operator.attrgetter(*[f.name for f in dataclasses.fields(cls)])


_ARTICLE_FIELDS = [f.name for f in dataclasses.fields(Article)]
_GET_ARTICLE = _getter(Article)
_GET_HEADING = _getter(MeshHeading)
_GET_QUALIFIER = _getter(MeshQualifier)
_GET_SUMMARY = _getter(Summary)
#: Article fields holding tuples of flat dataclasses, and those classes.
_FLAT = {
    _ARTICLE_FIELDS.index(name): cls
    for name, cls in (
        ("authors", Author),
        ("editors", Author),
        ("chemicals", Chemical),
        ("sections", Section),
        ("other_abstracts", OtherAbstract),
        ("comments_corrections", CommentCorrection),
        ("sentences", Sentence),
    )
}
_FLAT_GET = {i: _getter(cls) for i, cls in _FLAT.items()}
_MESH = _ARTICLE_FIELDS.index("mesh_headings")
_SUMMARY = _ARTICLE_FIELDS.index("summary")


def _encode(article: Article) -> list[Any]:
    row = list(_GET_ARTICLE(article))
    for i, get in _FLAT_GET.items():
        if row[i]:
            row[i] = [get(x) for x in row[i]]
    if row[_MESH]:
        row[_MESH] = [
            (d, ui, major, [_GET_QUALIFIER(q) for q in quals] if quals else ())
            for d, ui, major, quals in map(_GET_HEADING, row[_MESH])
        ]
    row[_SUMMARY] = _GET_SUMMARY(row[_SUMMARY])
    return row


#: Headings without qualifiers ("Humans") repeat across records: as in the parser, records
#: share one immutable object each instead of holding copies. Bounded.
_HEADINGS: dict[tuple[str, str | None, bool], MeshHeading] = {}
_HEADINGS_MAX = 100_000


def _plain_heading(descriptor: str, ui: str | None, major: bool) -> MeshHeading:
    if type(major) is not bool:  # a record built by hand: 1 == True, but not in JSON
        return MeshHeading(descriptor, ui, major)
    key = (descriptor, ui, major)
    found = _HEADINGS.get(key)
    if found is None:
        if len(_HEADINGS) >= _HEADINGS_MAX:
            _HEADINGS.clear()
        found = _HEADINGS[key] = MeshHeading(descriptor, ui, major)
    return found


def _decode(row: list[Any]) -> Article:
    for i, cls in _FLAT.items():
        if row[i]:
            row[i] = tuple([cls(*x) for x in row[i]])
    if row[_MESH]:
        row[_MESH] = tuple(
            [
                MeshHeading(d, ui, major, tuple([MeshQualifier(*q) for q in quals]))
                if quals
                else _plain_heading(d, ui, major)
                for d, ui, major, quals in row[_MESH]
            ]
        )
    row[_SUMMARY] = Summary(*row[_SUMMARY])
    return Article(*row)


def encode_articles(articles: list[Article]) -> list[list[Any]]:
    return [_encode(a) for a in articles]


def decode_articles(rows: list[list[Any]]) -> list[Article]:
    return [_decode(r) for r in rows]
