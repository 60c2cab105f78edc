"""Sentence roles: what each sentence of an abstract is for, and the summary built from them.

``annotate(article)`` splits every section of the abstract into sentences (offsets into
``article.abstract``; a sentence never crosses a section boundary). Sections whose NLM category
maps to a role keep it (confidence 1.0, source ``nlm``); unlabelled text, ``UNASSIGNED`` and
label-only sections are predicted (source ``model``) by the trained model shipped in
``cytoreview/data/roles_model.npz``. The model decodes the whole abstract at once with the
NLM-labelled sentences fixed, so a predicted sentence sees its labelled neighbours as context,
and when the abstract has several AbstractText sections (even unlabelled) their boundaries are
used too. :func:`annotate_many` does the same for a batch, several times faster.

If the model file is missing or unreadable, ``baseline_predict`` (cue phrases and position) stands
in, so the package still works from a bare source checkout.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from cytoreview.model import NLM_CATEGORY_ROLE, Article, Role, Sentence, Summary
from cytoreview.roles_baseline import baseline_predict
from cytoreview.roles_summary import build_summary, results_score
from cytoreview.sentences import split

__all__ = [
    "annotate",
    "annotate_many",
    "baseline_predict",
    "predict",
    "predict_abstract",
    "results_score",
    "using_model",
]


class _Predictor(Protocol):
    def predict(
        self,
        sentences: Sequence[str],
        fixed: Sequence[Role | None] | None = None,
        sections: Sequence[int] | None = None,
    ) -> list[tuple[Role, float]]: ...

    def predict_many(
        self,
        abstracts: Sequence[Sequence[str]],
        fixed: Sequence[Sequence[Role | None] | None] | None = None,
        sections: Sequence[Sequence[int] | None] | None = None,
    ) -> list[list[tuple[Role, float]]]: ...


class _Baseline:
    def predict(
        self,
        sentences: Sequence[str],
        fixed: Sequence[Role | None] | None = None,
        sections: Sequence[int] | None = None,
    ) -> list[tuple[Role, float]]:
        out = baseline_predict(list(sentences))
        if fixed is not None:
            out = [(f, 1.0) if f is not None else p for p, f in zip(out, fixed, strict=True)]
        return out

    def predict_many(
        self,
        abstracts: Sequence[Sequence[str]],
        fixed: Sequence[Sequence[Role | None] | None] | None = None,
        sections: Sequence[Sequence[int] | None] | None = None,
    ) -> list[list[tuple[Role, float]]]:
        fx = fixed if fixed is not None else [None] * len(abstracts)
        return [self.predict(a, f) for a, f in zip(abstracts, fx, strict=True)]


_cache: dict[str, _Predictor] = {}


def _predictor() -> _Predictor:
    """The trained model, loaded on first use; the baseline when no model file ships."""
    if "model" not in _cache:
        from cytoreview import roles_model  # numpy loads only when needed

        loaded = roles_model.load_default()
        _cache["model"] = loaded if loaded is not None else _Baseline()
    return _cache["model"]


def using_model() -> bool:
    """True when predictions come from the trained model rather than the baseline."""
    return not isinstance(_predictor(), _Baseline)


def predict(sentences: list[str]) -> list[tuple[Role, float]]:
    """Role and calibrated confidence of each sentence of ONE abstract, given in order."""
    return _predictor().predict(sentences)


def predict_abstract(
    sentences: Sequence[str],
    fixed: Sequence[Role | None] | None = None,
    sections: Sequence[int] | None = None,
) -> list[tuple[Role, float]]:
    """Like :func:`predict`, with some sentences' roles already known (kept as given) and,
    optionally, each sentence's section index (AbstractText boundaries help even unlabelled)."""
    return _predictor().predict(sentences, fixed, sections)


_START = operator.attrgetter("start")


def _segments(article: Article) -> list[tuple[int, int, str | None, str | None]]:
    """(start, end, label, category) pieces covering every non-space character of the abstract."""
    text = article.abstract
    pieces: list[tuple[int, int, str | None, str | None]] = []
    pos = 0
    sections = article.sections
    for sec in sections if len(sections) < 2 else sorted(sections, key=_START):
        start, end = max(sec.start, pos), min(sec.end, len(text))
        if start >= end:
            continue
        if text[pos:start].strip():
            pieces.append((pos, start, None, None))
        pieces.append((start, end, sec.label, sec.category))
        pos = end
    if text[pos:].strip():
        pieces.append((pos, len(text), None, None))
    return pieces


_Span = tuple[int, int, str | None, Role | None]
_ARTICLE_FIELDS = [f.name for f in dataclasses.fields(Article)]
# Every field before ``sentences`` and ``summary``, which must come last for finish() below.
assert _ARTICLE_FIELDS[-2:] == ["sentences", "summary"]
_ARTICLE_HEAD = operator.attrgetter(*_ARTICLE_FIELDS[:-2])
_new_article: Callable[..., Article] = Article
_NO_SUMMARY = Summary()


class _Pending:
    """One article's sentences, split and with NLM roles, waiting for predictions."""

    def __init__(self, article: Article) -> None:
        self.article = article
        text = article.abstract
        spans: list[_Span] = []
        section_of: list[int] = []
        segments = _segments(article)
        for k, (start, end, label, category) in enumerate(segments):
            known = NLM_CATEGORY_ROLE.get(category) if category else None
            pieces = split(text[start:end])
            spans += [(start + s, start + e, label, known) for s, e in pieces]
            section_of += [k] * len(pieces)
        self.spans = spans
        self.fixed = [known for _, _, _, known in spans]
        self.needs_model = None in self.fixed
        # One section is just flat text; boundaries only inform when there are several.
        self.sections = section_of if len(segments) > 1 else None
        self.texts = [text[s:e] for s, e, _, _ in spans] if self.needs_model else []

    def finish(self, predicted: Sequence[tuple[Role, float]] | None) -> Article:
        article = self.article
        if not self.spans and not article.sentences and article.summary == _NO_SUMMARY:
            return article  # no abstract: nothing to add (a third of some baseline files)
        if predicted is None:
            predicted = [(f, 1.0) for f in self.fixed if f is not None]
        sentences = tuple(
            [
                Sentence(s, e, role, round(conf, 4), "model", label)
                if known is None
                else Sentence(s, e, known, 1.0, "nlm", label)
                for (s, e, label, known), (role, conf) in zip(self.spans, predicted, strict=True)
            ]
        )
        # The summary's "most confident purpose sentence" sees the unrounded confidences:
        # rounded, near-equal ones tie and the earlier sentence would win by position alone.
        summary = build_summary(self.article, sentences, [conf for _, conf in predicted])
        # dataclasses.replace, without its per-field getattr and keyword arguments.
        return _new_article(*_ARTICLE_HEAD(self.article), sentences, summary)


def annotate(article: Article) -> Article:
    """The article with ``sentences`` and ``summary`` filled in (a new object, or the same one
    when it has no abstract and nothing to clear; the input is never changed)."""
    job = _Pending(article)
    if not job.needs_model:
        return job.finish(None)
    return job.finish(_predictor().predict(job.texts, job.fixed, job.sections))


def annotate_many(articles: Iterable[Article]) -> list[Article]:
    """:func:`annotate` for many articles at once: the same result, several times faster with
    the trained model, which then decodes all abstracts in a few large array operations."""
    jobs = [_Pending(a) for a in articles]
    todo = [j for j in jobs if j.needs_model]
    got = _predictor().predict_many(
        [j.texts for j in todo], [j.fixed for j in todo], [j.sections for j in todo]
    )
    by_id = {id(j): g for j, g in zip(todo, got, strict=True)}
    return [j.finish(by_id.get(id(j))) for j in jobs]
