"""A small PubMed query language for the stand-in's esearch.

Supported: ``"10.xxx/yyy"[doi]`` (also ``[aid]``, ``[lid]``, ``[location id]``), ``123[pmid]`` /
``[uid]``, ``PMC123[pmcid]`` / ``[pmc]``, free text (words AND-ed, case-insensitive; a quoted
phrase or a hyphenated word must match as adjacent words), text tags (``[tiab]``, ``[ti]``,
``[mh]``, ``[all fields]``, ... all searched over title + abstract + MeSH words), the boolean
operators ``AND``, ``OR``, ``NOT`` (upper case, as PubMed wants) and parentheses; adjacent terms
are AND-ed. Like PubMed, a term that matches nothing is reported in ``phrases_not_found`` and left
out of the expression (so ``a[doi] OR b[doi]`` with an unknown ``b`` still finds ``a``); an unknown
field tag is reported in ``fields_not_found`` and the term is searched as free text; stop words
outside quotes are ignored and reported in ``phrases_ignored``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .records import RecordStore, tokens

__all__ = ["QueryError", "QueryResult", "run_query"]

_DOI_TAGS = {"doi", "aid", "lid", "location id"}
_PMID_TAGS = {"pmid", "uid", "pubmed id"}
_PMC_TAGS = {"pmcid", "pmc"}
_TEXT_TAGS = {
    "all fields", "all", "tiab", "title/abstract", "ti", "title", "ab", "abstract", "tw",
    "text word", "mh", "mesh", "mesh terms", "majr", "mesh major topic", "sh",
}  # fmt: skip
_STOP_WORDS_TEXT = (
    "a about again all almost also although always among an and another any are as at be "
    "because been before being between both but by can could did do does done due during each "
    "either enough especially etc for found from further had has have having here how however "
    "i if in into is it its itself just kg km made mainly make may mg might ml mm most mostly "
    "must nearly neither no nor obtained of often on our overall perhaps pmid quite rather "
    "really regarding seem seen several should show showed shown shows significantly since so "
    "some such than that the their theirs them then there therefore these they this those "
    "through thus to upon use used using various very was we were what when which while with "
    "within without would"
)
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())

_TOKEN = re.compile(
    r'\s*(?:(?P<lp>\()|(?P<rp>\))|"(?P<quoted>[^"]*)"?|(?P<tag>\[[^\]]*\]?)|(?P<word>[^\s()"\[]+))'
)


class QueryError(ValueError):
    """The term cannot be parsed (unbalanced parentheses, dangling operator, empty)."""


@dataclass
class QueryResult:
    pmids: set[str]
    phrases_not_found: list[str] = field(default_factory=list)
    fields_not_found: list[str] = field(default_factory=list)
    phrases_ignored: list[str] = field(default_factory=list)
    translation: str = ""


@dataclass
class _Term:
    text: str
    quoted: bool
    tag: str | None = None


def _lex(term: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    term = term.strip()
    while pos < len(term):
        m = _TOKEN.match(term, pos)
        if not m or m.end() == pos:
            break
        pos = m.end()
        if m.group("lp"):
            out.append(("(", "("))
        elif m.group("rp"):
            out.append((")", ")"))
        elif m.group("quoted") is not None:
            out.append(("quoted", m.group("quoted")))
        elif m.group("tag") is not None:
            out.append(("tag", m.group("tag").strip("[]").strip().lower()))
        elif m.group("word") is not None:
            w = m.group("word")
            if w in ("AND", "OR", "NOT"):
                out.append(("op", w))
            else:
                out.append(("word", w))
    return out


class _Parser:
    def __init__(self, store: RecordStore, term: str) -> None:
        self.store = store
        self.toks = _lex(term)
        self.i = 0
        self.result = QueryResult(pmids=set())

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    # Each rule returns (PMIDs or None when the part matched nothing, translation).
    # expr := and_expr (OR and_expr)*
    def expr(self) -> tuple[set[str] | None, str]:
        left, text = self.and_expr()
        while (tok := self.peek()) is not None and tok == ("op", "OR"):
            self.take()
            right, rtext = self.and_expr()
            left = right if left is None else left if right is None else left | right
            text = _join(text, "OR", rtext)
        return left, text

    # and_expr := not_expr ((AND)? not_expr)*
    def and_expr(self) -> tuple[set[str] | None, str]:
        left, text = self.not_expr()
        while (tok := self.peek()) is not None and tok != ("op", "OR") and tok[0] != ")":
            if tok == ("op", "AND"):
                self.take()
            right, rtext = self.not_expr()
            left = right if left is None else left if right is None else left & right
            text = _join(text, "AND", rtext)
        return left, text

    # not_expr := primary (NOT primary)*
    def not_expr(self) -> tuple[set[str] | None, str]:
        left, text = self.primary()
        while (tok := self.peek()) is not None and tok == ("op", "NOT"):
            self.take()
            right, rtext = self.primary()
            if left is not None and right is not None:
                left = left - right
            text = _join(text, "NOT", rtext)
        return left, text

    def primary(self) -> tuple[set[str] | None, str]:
        tok = self.peek()
        if tok is None:
            raise QueryError("term ends where a search term was expected")
        kind, value = self.take()
        if kind == "(":
            inner, text = self.expr()
            if self.peek() is None or self.take()[0] != ")":
                raise QueryError("unbalanced parentheses")
            return inner, f"({text})" if text else ""
        if kind in ("op", ")", "tag"):
            raise QueryError(f"unexpected {value!r}")
        term = _Term(value, quoted=(kind == "quoted"))
        nxt = self.peek()
        if nxt is not None and nxt[0] == "tag":
            term.tag = self.take()[1]
        return self.leaf(term)

    def leaf(self, term: _Term) -> tuple[set[str] | None, str]:
        store = self.store
        text = term.text.strip()
        tag = term.tag
        shown = f'"{text}"' if term.quoted else text
        if tag in _DOI_TAGS:
            hits = set(store.pmids_for_doi(text))
        elif tag in _PMID_TAGS:
            hits = {text} if text in store else set()
        elif tag in _PMC_TAGS:
            pmid = store.pmid_for_pmcid(text)
            hits = {pmid} if pmid else set()
        else:
            if tag is not None and tag not in _TEXT_TAGS:
                self.result.fields_not_found.append(tag)
            words = tokens(text)
            if not term.quoted and len(words) == 1 and words[0] in STOP_WORDS:
                self.result.phrases_ignored.append(text)
                return None, ""
            if not words:
                self.result.phrases_not_found.append(shown)
                return None, ""
            hits = store.phrase_pmids(words)
            if tag is None and text.isdigit() and text in store:
                hits.add(text)
        if not hits:
            self.result.phrases_not_found.append(text)
            return None, ""
        return hits, f"{shown}[{tag}]" if tag else f"{shown}[All Fields]"


def _join(left: str, op: str, right: str) -> str:
    if left and right:
        return f"{left} {op} {right}"
    return left or right


def run_query(store: RecordStore, term: str) -> QueryResult:
    """Evaluate an esearch ``term`` against the store."""
    if not term.strip():
        raise QueryError("Empty term and query_key - nothing todo")
    parser = _Parser(store, term)
    pmids, parser.result.translation = parser.expr()
    if parser.peek() is not None:
        raise QueryError(f"unexpected {parser.peek()[1]!r}")  # type: ignore[index]
    parser.result.pmids = pmids or set()
    return parser.result
