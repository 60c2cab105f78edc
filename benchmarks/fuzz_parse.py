"""Mutation fuzzer for the PubMed XML parser (issue 7, item 3).

    python benchmarks/fuzz_parse.py                    # 100,000 inputs (a few minutes, 1 core)
    python benchmarks/fuzz_parse.py --inputs N --seed S
    python benchmarks/fuzz_parse.py --smoke            # about 2,000 inputs (CI)
    python benchmarks/fuzz_parse.py --replay I --seed S [--dump FILE]   # re-run one input

Deterministic: input ``i`` of seed ``S`` is built from ``random.Random(f"{S}:{i}")`` alone, so a
crash report's (seed, index) regenerates the exact input with ``--replay``. Plain Python, no
dependency beyond cytoreview itself.

Corpus: a few hundred real records from the two shared baseline files (each serialised as a
small ``PubmedArticleSet``), the hand-built seeds and the test fixtures (whole files, hostile
ones included). When the shared files are missing (a clean CI clone elsewhere) only the
in-repository documents are used.

Each input is a seed document with 1-4 mutations: tree-level (duplicate / remove / reorder /
rename / empty elements, missing PMID, inline markup and MathML, escaped markup and entities in
text, odd dates and identifiers, huge text and attributes, deep nesting, wrong root, spliced
records, DeleteCitation) then byte-level (bit flips, inserts, deletes, truncation, raw entity and
markup tokens, invalid UTF-8, encoding declarations and BOMs, DOCTYPEs with internal entities,
billion laughs, quadratic blow-up, external SYSTEM entities and DTDs pointing at a local canary
file). It then goes through one public entry point:

* ``bytes``: :func:`cytoreview.parse.parse_bytes`;
* ``stream``: :func:`cytoreview.parse.iter_articles` over a reader returning random-size chunks;
* ``file``: :func:`cytoreview.localfiles.parse_file` on a temp file, plain or gzip (whole,
  truncated, corrupted, double-wrapped, multi-member);
* ``element``: :func:`cytoreview.parse.parse_article` on every record of the safely parsed tree;
* ``records``: :func:`cytoreview.parse.parse_records`, and the cached raw XML read back again.

Oracle: the call returns, or raises ``CytoreviewError`` (``UnreadableFile``); ``parse_article``
may raise its documented ``ValueError`` ("... without PMID", "not a PubMed record"); anything
else is a crash, deduplicated by exception type and innermost cytoreview frame. Every
``Article`` must satisfy the invariants of :func:`check_article` (offsets, whitespace, year,
sentences and roles when annotated); the canary file's content must appear in no field, error
message or raw record; each input must finish within ``--time-limit`` seconds (a hard limit
aborts a hang) and the process's peak RSS must stay under ``--memory-mb``.

Crashing and violating inputs are saved under ``benchmarks/out/fuzz/`` (git-ignored) with a
``.txt`` describing them; ``report.json`` there holds the figures. Exit status 1 if any crash
or violation was found.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import gc
import gzip
import hashlib
import io
import json
import math
import os
import random
import re
import resource
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

from cytoreview import localfiles
from cytoreview import parse as cparse
from cytoreview.errors import CytoreviewError
from cytoreview.model import ROLES, Article, Sentence

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"  # ../shared beside the checkout
REAL_FILES = (SHARED / "pubmed21n1298.train.xml.gz", SHARED / "pubmed20n0014.xml.gz")
LOCAL_FILES = (
    ROOT / "data" / "seeds" / "seeds.xml",
    *sorted((ROOT / "tests" / "fixtures" / "xml").glob("*.xml")),
)
OUT = ROOT / "benchmarks" / "out" / "fuzz"
RECORD_TAGS = ("PubmedArticle", "PubmedBookArticle")
MATHML = "http://www.w3.org/1998/Math/MathML"
#: parse_article's documented refusals; any other ValueError is a bug (iter_articles would
#: silently count the record as "skipped").
DOCUMENTED_VALUE_ERRORS = re.compile(
    r"^(PubmedArticle without (PMID|MedlineCitation)|PubmedBookArticle without "
    r"(PMID|BookDocument)|not a PubMed record: )"
)
EXAMPLES_PER_KEY = 3


class HardTimeout(BaseException):
    """Raised by SIGALRM when one input runs past the hard limit (a hang)."""


# --- corpus ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seed:
    name: str
    data: bytes


def wrap_records(records: list[bytes]) -> bytes:
    body = b"\n".join(records)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n<PubmedArticleSet>\n' + body + (
        b"\n</PubmedArticleSet>\n"
    )


def _records_of(path: Path, limit: int, stride: int) -> list[bytes]:
    """Up to ``limit`` records (every ``stride``-th) of one file, each as its own XML."""
    out: list[bytes] = []
    opener: Callable[..., Any] = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        events = etree.iterparse(fh, events=("end",), tag=RECORD_TAGS, **cparse.SAFE_PARSER_OPTIONS)
        try:
            for n, (_, elem) in enumerate(events):
                if n % stride == 0:
                    out.append(etree.tostring(elem, encoding="UTF-8", with_tail=False))
                    if len(out) >= limit:
                        break
                elem.clear(keep_tail=True)
                parent = elem.getparent()
                if parent is not None:
                    while elem.getprevious() is not None:
                        del parent[0]
        except etree.XMLSyntaxError:
            pass  # a hostile fixture: its whole bytes are a seed anyway
    return out


def load_corpus(real_per_file: int = 150, stride: int = 7) -> list[Seed]:
    """Real records (``real_per_file`` from each shared file, if present) plus every local
    document, whole and record by record."""
    seeds: list[Seed] = []
    for path in REAL_FILES:
        if real_per_file > 0 and path.exists():
            for k, rec in enumerate(_records_of(path, real_per_file, stride)):
                seeds.append(Seed(f"{path.name}#{k}", wrap_records([rec])))
    for path in LOCAL_FILES:
        if not path.exists():
            continue
        seeds.append(Seed(path.name, path.read_bytes()))
        for k, rec in enumerate(_records_of(path, 400, 1)):
            seeds.append(Seed(f"{path.name}#{k}", wrap_records([rec])))
    if not seeds:
        raise SystemExit("fuzz_parse: no corpus (data/seeds/seeds.xml missing?)")
    return seeds


# --- inputs ---------------------------------------------------------------------------------


@dataclass
class FuzzInput:
    index: int
    seed_name: str
    data: bytes
    ops: list[str]
    mode: str  # bytes | stream | file | element | records
    transport: str = "plain"  # file mode: plain | gzip | gzip-truncated | ...
    roles: bool = False
    chunk_seed: int = 0


@dataclass
class Context:
    """What mutators need besides the document: the canary and the corpus (for splicing)."""

    corpus: list[Seed]
    canary_path: str

    @property
    def canary_uri(self) -> str:
        return "file://" + self.canary_path


TEXT_TAGS = (
    "ArticleTitle", "AbstractText", "Title", "ISOAbbreviation", "Keyword", "Affiliation",
    "LastName", "ForeName", "Initials", "CollectiveName", "DescriptorName", "QualifierName",
    "NameOfSubstance", "VernacularTitle", "MedlinePgn", "BookTitle", "PublicationType",
    "Volume", "Issue", "RefSource", "Language",
)
PUBMED_TAGS = (
    "PubmedArticle", "PubmedBookArticle", "DeleteCitation", "MedlineCitation", "BookDocument",
    "PubmedData", "PMID", "Article", "Journal", "JournalIssue", "PubDate", "Year", "Month",
    "Day", "Season", "MedlineDate", "ArticleTitle", "Abstract", "AbstractText", "AuthorList",
    "Author", "LastName", "ForeName", "Identifier", "ArticleIdList", "ArticleId",
    "ELocationID", "MeshHeadingList", "DescriptorName", "QualifierName", "ChemicalList",
    "RegistryNumber", "NameOfSubstance", "CommentsCorrectionsList", "CommentsCorrections",
    "OtherAbstract", "KeywordList", "Keyword", "Book", "BookTitle", "Pagination",
    "StartPage", "EndPage", "PublicationTypeList", "PublicationType", "VernacularTitle",
)
INLINE = (
    "<i>IL-2</i>", "<sup>+</sup>", "<sub>2</sub>", "<b>bold</b>", "<u>u</u>", "<i/>",
    "<i><b><sup>deep</sup></b></i>", "<sc>sc</sc>", "<span class='x'>s</span>",
    f"<mml:math xmlns:mml='{MATHML}'><mml:mi>x</mml:mi><mml:mo>=</mml:mo><mml:mn>2</mml:mn>"
    "<mml:annotation encoding='TeX'>x=2</mml:annotation></mml:math>",
    f"<mml:math xmlns:mml='{MATHML}'><mml:semantics><mml:mi>\u03b1</mml:mi>"
    "<mml:annotation-xml encoding='MathML-Content'><mml:ci>a</mml:ci></mml:annotation-xml>"
    "</mml:semantics></mml:math>",
    "<DispFormula>E = mc<sup>2</sup></DispFormula>", "<AbstractText>nested</AbstractText>",
    "<PMID>999</PMID>",
)
TEXT_PAYLOADS = (
    "&amp;", "&lt;i&gt;x&lt;/i&gt;", "<p>para</p>", "&lt;p&gt;a&lt;o:p&gt;&lt;/o:p&gt;b",
    "&#0;", "&#x0;", "&#xD800;", "&#1114112;", "&#x110000;", "&#1;", "&#x80;", "&foo;",
    "&copy", "&para;", "&amp;#353;", "&amp;lt;sup&amp;gt;+&amp;lt;/sup&amp;gt;", "<sup>+</sup>",
    "a < b > c", "CD4<sup>+</sup> T", "<br/>", "\u00a0", "\u2028", "\u2029", "\u0085",
    "\u200b", "\u3000", "\u0130", "\ufb01", "e\u0301", "\U0001f600", "\u202e", "\ufeff",
    "\t\n  \r\n", "", " ", "x" * 300, "Background: x. Methods: y. Results: z.",
)
YEARS = ("", " ", "0", "0000", "99999", "\u00b2", "\u0661\u0669\u0669\u0669", "2O20", "-1",
         " 2020 ", "1e3", "2020\n", "+2020", "2020.5", "9" * 400, "\u2167", "\uff12\uff10")
MONTHS = ("", "0", "00", "13", "\u00b2", "\u0663", "Sept", "Jan-Feb", "12", "\uff11", "-1")
MEDLINE_DATES = ("", "1998-", "Spring 1599-2000", "1000", "3000-3001", "Winter", "\u00b2\u00b2")
PMIDS = ("", " ", "\n\t", "0", "abc", "\u0661\u0662\u0663", "12 34", "x" * 1000, "-5", "1")
ORCIDS = ("", "0000-0002-1825-0097", "https://orcid.org/0000-0002-1825-009X", "/", "x/",
          "00000002182500970000", "\u00b2" * 16, "-" * 20, "http://orcid.org/")
ATTRS = {
    "NlmCategory": ("BACKGROUND", "OBJECTIVE", "METHODS", "RESULTS", "CONCLUSIONS",
                    "UNASSIGNED", "", "results", "x"),
    "Label": ("", "BACKGROUND", "x" * 500, "\u00e9", " "),
    "IdType": ("doi", "pmc", "pubmed", "", "DOI"),
    "EIdType": ("doi", "pii", ""),
    "ValidYN": ("Y", "N", ""),
    "Source": ("ORCID", "orcid", ""),
    "Type": ("editors", "authors", "", "PIP"),
    "MajorTopicYN": ("Y", "N", "y"),
    "RefType": ("RetractionIn", "ErratumIn", "", "x" * 200),
    "UI": ("", "D000001", "x" * 200),
}
BYTE_TOKENS = (
    b"&amp;amp;", b"&#x0;", b"&#0;", b"&foo;", b"&#xD800;", b"&#1114112;", b"&#x110000;",
    b"&lt;", b"<![CDATA[<i>x</i> & y]]>", b"<!-- c -->", b"<?pi x?>", b"&amp;#353;",
    b"&amp;lt;p&amp;gt;", b"]]>", b"<", b"&", b"\x00", b"\r\n", b"\xef\xbb\xbf", b"&#",
    b"&#x;", b"&amp", b"<i>", b"</i>", b"<PubmedArticle>", b"</PubmedArticle>", b"<PMID>",
    b"<!DOCTYPE x>", b"<?xml version='1.0'?>", b'"', b"'", b"\x1f\x8b",
)
BAD_UTF8 = (b"\xff", b"\xfe", b"\xc3\x28", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
            b"\xe2\x82", b"\x80", b"\xf8\x88\x80\x80\x80", b"\xef\xbf\xbe")
ELEMENT_START = re.compile(rb"<[A-Za-z_]")
DOCTYPE = re.compile(rb"<!DOCTYPE[^\[>]*(\[.*?\]\s*)?>", re.DOTALL)
TEXT_NODE = re.compile(rb">([^<>]{1,2000})<")
XML_DECL = re.compile(rb"^\s*<\?xml[^>]*\?>")


def _elements(root: Any) -> list[Any]:
    return [e for e in root.iter() if isinstance(e.tag, str)]


def _pick(rng: random.Random, root: Any, tags: tuple[str, ...] | None = None,
          non_root: bool = True) -> Any:
    elems = _elements(root)
    if tags is not None:
        wanted = [e for e in elems if etree.QName(e).localname in tags]
        elems = wanted or elems
    if non_root:
        elems = [e for e in elems if e.getparent() is not None] or elems
    return rng.choice(elems)


def _set_text(elem: Any, text: str) -> None:
    try:
        elem.text = text
    except ValueError:  # lxml refuses control characters: not an input we can build
        elem.text = text.encode("ascii", "replace").decode()


def _big_text(rng: random.Random) -> str:
    size = rng.choices((2_000, 50_000, 400_000, 2_000_000, 11_000_000),
                       weights=(40, 30, 20, 8, 2))[0]
    kind = rng.randrange(4)
    if kind == 0:
        return "A" * size
    if kind == 1:
        unit = "Patients were treated with IL-2. "
    elif kind == 2:
        unit = "a&lt;i&gt;b&lt;/i&gt; "
    else:
        unit = "\u00e9\u4e2d\U0001f600 . "
    return unit * max(1, size // len(unit))


# Tree mutators: (rng, root, ctx) -> root (possibly a new one).

def t_duplicate(rng: random.Random, root: Any, ctx: Context) -> Any:
    elem = _pick(rng, root)
    if elem.getparent() is None:
        return root
    for _ in range(rng.choice((1, 1, 2, 10))):
        elem.addnext(copy.deepcopy(elem))
    return root


def t_remove(rng: random.Random, root: Any, ctx: Context) -> Any:
    elem = _pick(rng, root)
    parent = elem.getparent()
    if parent is not None:
        parent.remove(elem)
    return root


def t_reorder(rng: random.Random, root: Any, ctx: Context) -> Any:
    parents = [e for e in _elements(root) if len(e) > 1] or [root]
    parent = rng.choice(parents)
    children = list(parent)
    rng.shuffle(children)
    for child in children:
        parent.remove(child)
    parent.extend(children)
    return root


def t_empty(rng: random.Random, root: Any, ctx: Context) -> Any:
    elem = _pick(rng, root)
    elem.clear(keep_tail=True)
    if rng.random() < 0.5:
        elem.text = rng.choice(("", " ", "\n  "))
    return root


def t_missing_pmid(rng: random.Random, root: Any, ctx: Context) -> Any:
    for pmid in list(root.iter("PMID")):
        parent = pmid.getparent()
        if parent is None or parent.tag not in ("MedlineCitation", "BookDocument"):
            continue
        if rng.random() < 0.5:
            parent.remove(pmid)
        else:
            _set_text(pmid, rng.choice(PMIDS))
    return root


def t_inline_markup(rng: random.Random, root: Any, ctx: Context) -> Any:
    elem = _pick(rng, root, TEXT_TAGS)
    fragment = etree.fromstring(f"<w xmlns:mml='{MATHML}'>{rng.choice(INLINE)}</w>")
    child = fragment[0]
    text = elem.text or ""
    cut = rng.randint(0, len(text))
    position = rng.randint(0, len(elem))
    if position == 0:
        elem.text, child.tail = text[:cut], text[cut:] + (child.tail or "")
    elem.insert(position, child)
    return root


def t_text_payload(rng: random.Random, root: Any, ctx: Context) -> Any:
    elem = _pick(rng, root, TEXT_TAGS)
    text = elem.text or ""
    cut = rng.randint(0, len(text))
    payload = "".join(rng.choice(TEXT_PAYLOADS) for _ in range(rng.randint(1, 4)))
    _set_text(elem, text[:cut] + payload + text[cut:])
    return root


def t_odd_values(rng: random.Random, root: Any, ctx: Context) -> Any:
    choice = rng.randrange(6)
    if choice < 3:  # dates, created where missing
        pub_dates = list(root.iter("PubDate")) or [
            etree.SubElement(_pick(rng, root, ("JournalIssue", "Book")), "PubDate")
        ]
        pub_date = rng.choice(pub_dates)
        tag, values = rng.choice((("Year", YEARS), ("Month", MONTHS), ("Day", MONTHS),
                                  ("Season", MONTHS), ("MedlineDate", MEDLINE_DATES)))
        target = pub_date.find(tag)
        if target is None:
            target = etree.SubElement(pub_date, tag)
        _set_text(target, rng.choice(values))
    elif choice == 3:
        idents = list(root.iter("Identifier"))
        if idents:
            ident = rng.choice(idents)
        else:
            ident = etree.SubElement(_pick(rng, root, ("Author",)), "Identifier")
        ident.set("Source", "ORCID")
        _set_text(ident, rng.choice(ORCIDS))
    elif choice == 4:
        elem = _pick(rng, root, ("ArticleId", "ELocationID", "PMID", "RegistryNumber"))
        _set_text(elem, rng.choice(PMIDS + ORCIDS))
    else:
        elem = _pick(rng, root)
        name = rng.choice(list(ATTRS))
        elem.set(name, rng.choice(ATTRS[name]))
    return root


def t_huge(rng: random.Random, root: Any, ctx: Context) -> Any:
    elem = _pick(rng, root, ("AbstractText", "ArticleTitle", "Affiliation", "Keyword"))
    if rng.random() < 0.7:
        _set_text(elem, _big_text(rng))
    else:
        name = rng.choice((*ATTRS, "Huge"))
        elem.set(name, _big_text(rng))
    return root


def t_deep(rng: random.Random, root: Any, ctx: Context) -> Any:
    elem = _pick(rng, root, TEXT_TAGS)
    depth = rng.choice((20, 100, 200, 240, 255, 300, 1000, 5000))
    tag = rng.choice(("i", "sup", "AbstractText", "Abstract", "PubmedArticle", "x"))
    inner = top = etree.Element(tag)
    for _ in range(depth - 1):
        inner = etree.SubElement(inner, tag)
    inner.text = "deep"
    elem.append(top)
    return root


def t_wrong_root(rng: random.Random, root: Any, ctx: Context) -> Any:
    choice = rng.randrange(4)
    if choice == 0:
        root.tag = rng.choice(("html", "foo", "MedlineCitationSet", "PubmedBookArticleSet",
                               "DeleteCitation", "PubmedArticle", "{urn:x}PubmedArticleSet"))
        return root
    if choice == 1:
        wrapper = etree.Element(rng.choice(("wrapper", "PubmedArticleSet", "html")))
        wrapper.append(root)
        return wrapper
    if choice == 2:  # the record itself as the root
        records = [e for e in _elements(root) if e.tag in RECORD_TAGS]
        return copy.deepcopy(rng.choice(records)) if records else root
    return etree.Element(rng.choice(("PubmedArticleSet", "x", "PubmedArticle")))


def t_rename(rng: random.Random, root: Any, ctx: Context) -> Any:
    elem = _pick(rng, root)
    elem.tag = rng.choice(PUBMED_TAGS) if rng.random() < 0.9 else (
        "{urn:x}" + etree.QName(elem).localname)
    return root


def t_splice(rng: random.Random, root: Any, ctx: Context) -> Any:
    donor = rng.choice(ctx.corpus).data
    try:
        donor_root = etree.fromstring(donor, cparse.safe_parser())
    except etree.XMLSyntaxError:
        return root
    records = [e for e in _elements(donor_root) if e.tag in RECORD_TAGS]
    if records:
        target = _pick(rng, root, None, non_root=False)
        target.insert(rng.randint(0, len(target)), copy.deepcopy(rng.choice(records)))
    return root


def t_delete_citation(rng: random.Random, root: Any, ctx: Context) -> Any:
    block = etree.SubElement(root, "DeleteCitation")
    for value in rng.sample(PMIDS, 3):
        _set_text(etree.SubElement(block, "PMID"), value)
    return root


def t_comment_pi(rng: random.Random, root: Any, ctx: Context) -> Any:
    elem = _pick(rng, root, TEXT_TAGS)
    node = rng.choice((etree.Comment(" a comment "), etree.ProcessingInstruction("pi", "x")))
    node.tail = elem.text
    elem.text = None
    elem.insert(0, node)
    return root


TREE_OPS: dict[str, tuple[Callable[[random.Random, Any, Context], Any], int]] = {
    "duplicate": (t_duplicate, 10), "remove": (t_remove, 10), "reorder": (t_reorder, 6),
    "empty": (t_empty, 8), "missing_pmid": (t_missing_pmid, 5),
    "inline_markup": (t_inline_markup, 12), "text_payload": (t_text_payload, 12),
    "odd_values": (t_odd_values, 12), "huge": (t_huge, 2), "deep": (t_deep, 3),
    "wrong_root": (t_wrong_root, 3), "rename": (t_rename, 8), "splice": (t_splice, 5),
    "delete_citation": (t_delete_citation, 2), "comment_pi": (t_comment_pi, 3),
}


# Byte mutators: (rng, data, ctx) -> data.

def _text_position(rng: random.Random, data: bytes) -> int:
    nodes = [m for _, m in zip(range(400), TEXT_NODE.finditer(data), strict=False)]
    if not nodes:
        return rng.randint(0, len(data))
    node = rng.choice(nodes)
    return rng.randint(node.start(1), node.end(1))


def b_flip(rng: random.Random, data: bytes, ctx: Context) -> bytes:
    if not data:
        return bytes([rng.randrange(256)])
    buf = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 4, 16))):
        buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
    return bytes(buf)


def b_insert(rng: random.Random, data: bytes, ctx: Context) -> bytes:
    pos = rng.randint(0, len(data))
    junk = bytes(rng.randrange(256) for _ in range(rng.choice((1, 2, 8, 64))))
    return data[:pos] + junk + data[pos:]


def b_delete(rng: random.Random, data: bytes, ctx: Context) -> bytes:
    if not data:
        return data
    start = rng.randrange(len(data))
    return data[:start] + data[start + rng.choice((1, 2, 10, 100, 1000)):]


def b_truncate(rng: random.Random, data: bytes, ctx: Context) -> bytes:
    return data[: rng.randint(0, len(data))]


def b_token(rng: random.Random, data: bytes, ctx: Context) -> bytes:
    pos = _text_position(rng, data) if rng.random() < 0.7 else rng.randint(0, len(data))
    return data[:pos] + rng.choice(BYTE_TOKENS) + data[pos:]


def b_bad_utf8(rng: random.Random, data: bytes, ctx: Context) -> bytes:
    bad = rng.choice(BAD_UTF8)
    if rng.random() < 0.2:  # cut a multibyte character in half at the end
        return data + b"\xe2\x82"
    pos = _text_position(rng, data) if rng.random() < 0.8 else rng.randint(0, len(data))
    return data[:pos] + bad + data[pos:]


def b_encoding(rng: random.Random, data: bytes, ctx: Context) -> bytes:
    choice = rng.randrange(7)
    body = XML_DECL.sub(b"", data, count=1)
    if choice == 0:
        return body
    if choice == 1:
        enc = rng.choice((b"ISO-8859-1", b"UTF-16", b"ascii", b"EBCDIC", b"bogus", b"UTF-32",
                          b"Shift_JIS", b""))
        return b'<?xml version="1.0" encoding="' + enc + b'"?>' + body
    if choice == 2:
        return b"\xef\xbb\xbf" + data
    if choice == 3:
        return b"  \n" + data  # whitespace before the declaration
    if choice == 4:
        return data.decode("utf-8", "replace").encode(rng.choice(("utf-16", "utf-16-le")))
    if choice == 5:
        return b'<?xml version="1.0"?>' + data  # two declarations
    return b'<?xml version="2.0"?>' + body


def _doctype(rng: random.Random, ctx: Context) -> tuple[bytes, list[bytes]]:
    """A DOCTYPE and the entity references to sprinkle into the text."""
    canary = ctx.canary_uri.encode()
    path = ctx.canary_path.encode()
    kind = rng.randrange(10)
    if kind == 0:
        subset = b'<!ENTITY e "expanded"><!ENTITY m "<i>markup</i>">'
        return subset, [b"&e;", b"&m;"]
    if kind == 1:  # billion laughs
        lines = [b'<!ENTITY lol0 "lol">']
        for n in range(1, 10):
            lines.append(b"<!ENTITY lol%d \"" % n + (b"&lol%d;" % (n - 1)) * 10 + b'">')
        return b"".join(lines), [b"&lol9;"]
    if kind == 2:  # quadratic blow-up
        return b'<!ENTITY a "' + b"a" * 50_000 + b'">', [b"&a;" * 2000]
    if kind == 3:
        return b'<!ENTITY xxe SYSTEM "' + canary + b'">', [b"&xxe;"]
    if kind == 4:
        return b'<!ENTITY xxe SYSTEM "' + path + b'">', [b"&xxe;"]
    if kind == 5:
        return (b'<!ENTITY % p SYSTEM "' + canary + b'"> %p;'
                b'<!ENTITY % q "<!ENTITY leak SYSTEM \'' + canary + b'\'>"> %q;'), [b"&leak;"]
    if kind == 6:  # external DTD subset
        return b'SYSTEM "' + canary + b'"', [b"&xxe;"]
    if kind == 7:
        return b'<!ENTITY r "&r;">', [b"&r;"]
    if kind == 8:  # an entity in an attribute value
        return b'<!ENTITY e "v"><!ENTITY xxe SYSTEM "' + canary + b'">', [b"&e;", b"&xxe;"]
    return b'<!ENTITY u "&#x0;"><!ENTITY nested "&undefined;">', [b"&u;", b"&nested;"]


def b_doctype(rng: random.Random, data: bytes, ctx: Context) -> bytes:
    subset, refs = _doctype(rng, ctx)
    body = DOCTYPE.sub(b"", data, count=1)
    match = ELEMENT_START.search(body)
    start = match.start() if match else 0
    end = body.find(b">", start)
    name = body[start + 1 : end].split()[0].rstrip(b"/") if match and end > 0 else b"x"
    if subset.startswith(b"SYSTEM"):
        doctype = b"<!DOCTYPE " + name + b" " + subset + b">\n"
    else:
        doctype = b"<!DOCTYPE " + name + b" [\n" + subset + b"\n]>\n"
    body = body[:start] + doctype + body[start:]
    for _ in range(rng.choice((1, 1, 2, 5))):
        ref = rng.choice(refs)
        if rng.random() < 0.15 and b'Label="' in body:
            body = body.replace(b'Label="', b'Label="' + ref, 1)
        else:
            pos = _text_position(rng, body)
            body = body[:pos] + ref + body[pos:]
    return body


def b_undefined_entity(rng: random.Random, data: bytes, ctx: Context) -> bytes:
    pos = _text_position(rng, data)
    return data[:pos] + rng.choice((b"&foo;", b"&nbsp;", b"&eacute;", b"&xxe;")) + data[pos:]


def b_copy_chunk(rng: random.Random, data: bytes, ctx: Context) -> bytes:
    if len(data) < 2:
        return data
    start = rng.randrange(len(data))
    chunk = data[start : start + rng.choice((5, 50, 500, 5000))]
    pos = rng.randint(0, len(data))
    return data[:pos] + chunk + data[pos:]


def b_garbage(rng: random.Random, data: bytes, ctx: Context) -> bytes:
    choice = rng.randrange(6)
    if choice == 0:
        return b""
    if choice == 1:
        return b" \n\t"
    if choice == 2:
        return bytes(rng.randrange(256) for _ in range(rng.choice((1, 10, 1000))))
    if choice == 3:
        return b"\x1f\x8b" + data[:100]
    if choice == 4:
        return b"<html><body>Service unavailable</body></html>"
    return b'<?xml version="1.0"?>\n<eFetchResult><ERROR>Empty id list</ERROR></eFetchResult>'


BYTE_OPS: dict[str, tuple[Callable[[random.Random, bytes, Context], bytes], int]] = {
    "flip": (b_flip, 10), "insert": (b_insert, 6), "delete": (b_delete, 8),
    "truncate": (b_truncate, 8), "token": (b_token, 12), "bad_utf8": (b_bad_utf8, 8),
    "encoding": (b_encoding, 5), "doctype": (b_doctype, 10),
    "undefined_entity": (b_undefined_entity, 5), "copy_chunk": (b_copy_chunk, 5),
    "garbage": (b_garbage, 1),
}
MODES = {"bytes": 40, "stream": 15, "file": 25, "element": 12, "records": 8}
TRANSPORTS = {"plain": 40, "gzip": 30, "gzip-truncated": 12, "gzip-corrupt": 8,
              "gzip-double": 4, "gzip-members": 6}


def _weighted(rng: random.Random, table: dict[str, Any]) -> str:
    names = list(table)
    weights = [w if isinstance(w, int) else w[1] for w in table.values()]
    return rng.choices(names, weights=weights)[0]


def make_input(ctx: Context, seed: int, index: int,
               modes: dict[str, int] | None = None) -> FuzzInput:
    """Input ``index`` of campaign ``seed``: a function of (corpus, seed, index) only."""
    rng = random.Random(f"{seed}:{index}")
    base = rng.choice(ctx.corpus)
    data = base.data
    ops: list[str] = []
    n_tree = rng.choice((0, 1, 1, 2, 3))
    n_byte = rng.choice((0, 0, 1, 1, 2)) if n_tree else rng.choice((1, 1, 2, 3))
    if n_tree:
        try:
            root = etree.fromstring(data, cparse.safe_parser())
        except etree.XMLSyntaxError:
            root = None
        if root is not None:
            for _ in range(n_tree):
                name = _weighted(rng, TREE_OPS)
                try:
                    root = TREE_OPS[name][0](rng, root, ctx)
                except (ValueError, TypeError) as exc:  # a mutation lxml refuses to build
                    name += f"(failed: {type(exc).__name__})"
                ops.append(name)
            data = etree.tostring(root.getroottree(), encoding="UTF-8", xml_declaration=True)
    for _ in range(n_byte):
        name = _weighted(rng, BYTE_OPS)
        data = BYTE_OPS[name][0](rng, data, ctx)
        ops.append(name)
    mode = _weighted(rng, modes or MODES)
    transport = _weighted(rng, TRANSPORTS) if mode == "file" else "plain"
    roles = mode in ("bytes", "stream", "file") and rng.random() < 0.25
    return FuzzInput(index, base.name, data, ops, mode, transport, roles, rng.randrange(2**31))


def encode_transport(rng: random.Random, data: bytes, transport: str) -> bytes:
    if transport == "plain":
        return data
    packed = gzip.compress(data, compresslevel=1, mtime=0)
    if transport == "gzip-truncated":
        return packed[: rng.randint(2, max(2, len(packed) - 1))]
    if transport == "gzip-corrupt":
        buf = bytearray(packed)
        for _ in range(rng.choice((1, 3))):
            pos = rng.randrange(10, len(buf)) if len(buf) > 10 else rng.randrange(len(buf))
            buf[pos] ^= 1 << rng.randrange(8)
        return bytes(buf)
    if transport == "gzip-double":
        return gzip.compress(packed, mtime=0)
    if transport == "gzip-members":
        cut = rng.randint(0, len(data))
        return gzip.compress(data[:cut], mtime=0) + gzip.compress(data[cut:], mtime=0)
    return packed


# --- the oracle -----------------------------------------------------------------------------


@dataclass
class Targets:
    """The entry points under test; tests swap in broken stubs to check the oracle bites."""

    parse_bytes: Callable[..., list[Article]] = cparse.parse_bytes
    iter_articles: Callable[..., Iterator[Article]] = cparse.iter_articles
    parse_article: Callable[[Any], Article] = cparse.parse_article
    parse_records: Callable[..., list[tuple[Article, bytes]]] = cparse.parse_records
    parse_file: Callable[..., localfiles.FileResult] = localfiles.parse_file
    annotate: Callable[[Article], Article] | None = None

    def annotator(self) -> Callable[[Article], Article]:
        if self.annotate is None:
            from cytoreview.roles import annotate

            self.annotate = annotate
        return self.annotate


class ChunkedReader:
    """A stream whose ``read`` returns random-size pieces (buffer boundaries everywhere)."""

    def __init__(self, data: bytes, seed: int) -> None:
        self._buf = io.BytesIO(data)
        self._rng = random.Random(seed)

    def read(self, size: int = -1, /) -> bytes:
        limit = self._rng.choice((1, 7, 100, 4096, 65536))
        return self._buf.read(limit if size < 0 else max(1, min(size, limit)))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, bytes):
        yield value.decode("utf-8", "replace")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _strings(getattr(value, f.name))
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _strings(item)


def _normalised(text: str) -> bool:
    return text == " ".join(text.split())


def _display_fields(article: Article) -> Iterator[tuple[str, list[Any]]]:
    """Text fields built from element text, which the parser collapses like the title."""
    yield "author names", [v for a in article.authors
                           for v in (a.last_name, a.fore_name, a.initials, a.suffix,
                                     a.collective_name) if v is not None]
    yield "affiliations", [v for a in article.authors for v in a.affiliations]
    yield "keywords", list(article.keywords)
    yield "MeSH names", [v for h in article.mesh_headings
                         for v in (h.descriptor, *(q.name for q in h.qualifiers))]
    yield "chemical names", [c.name for c in article.chemicals]
    yield "publication types", list(article.publication_types)
    yield "journal", [v for v in (article.journal, article.journal_iso) if v is not None]


def check_article(article: Any, data: bytes, annotated: bool) -> list[str]:
    """Invariant violations of one record (empty when it is sound)."""
    if not isinstance(article, Article):
        return [f"not an Article: {type(article).__name__}"]
    bad: list[str] = []
    if not isinstance(article.pmid, str) or not article.pmid.strip():
        bad.append(f"pmid empty or not str: {article.pmid!r}")
    elif article.pmid != article.pmid.strip():
        bad.append(f"pmid not stripped: {article.pmid!r}")
    abstract = article.abstract
    for name in ("title", "abstract"):
        value = getattr(article, name)
        if not isinstance(value, str):
            bad.append(f"{name} not str: {type(value).__name__}")
        elif not _normalised(value):
            bad.append(f"{name} whitespace not normalised")
    if not isinstance(abstract, str):
        return bad
    year = article.year
    if year is not None:
        if type(year) is not int:
            bad.append(f"year not int: {year!r}")
        elif not 1000 <= year <= 2999 and str(year).encode() not in data:
            bad.append(f"implausible year {year} not present in the input")
    prev_end = 0
    texts: list[str] = []
    for k, sec in enumerate(article.sections):
        if not (isinstance(sec.start, int) and isinstance(sec.end, int)
                and 0 <= sec.start <= sec.end <= len(abstract)):
            bad.append(f"section {k} offsets out of bounds ({sec.start}, {sec.end})")
            continue
        if sec.start < prev_end:
            bad.append(f"section {k} overlaps or precedes the previous one")
        if abstract[sec.start : sec.end] != sec.text:
            bad.append(f"section {k}: abstract[start:end] != text")
        if not _normalised(sec.text):
            bad.append(f"section {k} text whitespace not normalised")
        prev_end = sec.end
        if sec.text:
            texts.append(sec.text)
    if article.sections and " ".join(texts) != abstract:
        bad.append("abstract is not its sections' texts joined")
    for name, values in _display_fields(article):
        if not all(isinstance(v, str) and _normalised(v) for v in values):
            bad.append(f"{name} whitespace not normalised")
    for text in _strings(article):
        if "\x00" in text:
            bad.append("NUL character in a field")
            break
    if annotated:
        bad.extend(_check_sentences(article.sentences, abstract))
    elif article.sentences:
        bad.append("sentences present without roles")
    return bad


def _check_sentences(sentences: tuple[Sentence, ...], abstract: str) -> list[str]:
    bad: list[str] = []
    prev_end = 0
    for k, s in enumerate(sentences):
        if not (isinstance(s.start, int) and isinstance(s.end, int)
                and 0 <= s.start < s.end <= len(abstract)):
            bad.append(f"sentence {k} offsets invalid ({s.start}, {s.end})")
            continue
        if s.start < prev_end:
            bad.append(f"sentence {k} overlaps or precedes the previous one")
        if s.role not in ROLES:
            bad.append(f"sentence {k} role {s.role!r} not one of the five")
        if not (isinstance(s.confidence, float | int) and not math.isnan(s.confidence)
                and 0.0 <= s.confidence <= 1.0):
            bad.append(f"sentence {k} confidence {s.confidence!r} outside [0, 1]")
        if s.source not in ("nlm", "model"):
            bad.append(f"sentence {k} source {s.source!r}")
        if abstract[prev_end : s.start].strip():
            bad.append(f"text before sentence {k} is in no sentence")
        prev_end = s.end
    if abstract[prev_end:].strip():
        bad.append("text after the last sentence is in no sentence")
    return bad


@dataclass
class Finding:
    kind: str  # crash | violation
    key: str
    detail: str


def _crash_key(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "cytoreview" in f.filename] or frames
    where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno} in {ours[-1].name}" if ours else "?"
    return f"{type(exc).__name__} @ {where}"


def _crash(exc: BaseException) -> Finding:
    return Finding("crash", _crash_key(exc),
                   "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))


def run_input(inp: FuzzInput, targets: Targets, canary: str, workdir: str) -> list[Finding]:
    """Feed one input through its entry point; the oracle's findings (none when all is well)."""
    findings: list[Finding] = []
    articles: list[Article] = []
    messages: list[str] = []
    raw_records: list[bytes] = []
    annotated = False
    stats = cparse.ParseStats()
    try:
        if inp.mode == "bytes":
            try:
                articles = targets.parse_bytes(inp.data, "<fuzz>", stats)
            except CytoreviewError as exc:
                messages.append(str(exc))
        elif inp.mode == "stream":
            try:
                reader = ChunkedReader(inp.data, inp.chunk_seed)
                for article in targets.iter_articles(reader, "<fuzz>", stats):
                    articles.append(article)
            except CytoreviewError as exc:
                messages.append(str(exc))
        elif inp.mode == "file":
            payload = encode_transport(random.Random(inp.chunk_seed), inp.data, inp.transport)
            path = os.path.join(workdir, "input.xml.gz" if "gzip" in inp.transport
                                else "input.xml")
            with open(path, "wb") as fh:
                fh.write(payload)
            try:
                result = targets.parse_file(path, roles=inp.roles)
            except CytoreviewError as exc:
                findings.append(Finding("violation", "parse_file raised (documented never to)",
                                        repr(exc)))
                messages.append(str(exc))
            else:
                articles = list(result.articles)
                annotated = inp.roles
                if result.reason is not None:
                    messages.append(result.reason)
        elif inp.mode == "element":
            findings.extend(_run_elements(inp.data, targets, articles))
        elif inp.mode == "records":
            try:
                pairs = targets.parse_records(inp.data, "<fuzz>")
            except CytoreviewError as exc:
                messages.append(str(exc))
                pairs = []
            for article, raw in pairs:
                articles.append(article)
                raw_records.append(raw)
            findings.extend(_check_cache_round_trip(pairs, targets))
        if stats.skipped:
            # iter_articles counts a record whose parse_article raised ValueError as skipped:
            # ask parse_article directly whether that was a documented refusal.
            findings.extend(_run_elements(inp.data, targets, []))
        if inp.roles and not annotated and inp.mode != "file":
            annotate = targets.annotator()
            articles = [annotate(a) for a in articles]
            annotated = True
    except HardTimeout:
        raise
    except Exception as exc:
        findings.append(_crash(exc))
        return findings
    for article in articles:
        for problem in check_article(article, inp.data, annotated):
            findings.append(Finding("violation", re.sub(r"\d+", "N", problem),
                                    f"PMID {getattr(article, 'pmid', '?')!r}: {problem}"))
    if any("empty: no XML" in m for m in messages) and b"<PubmedArticle" in inp.data:
        findings.append(Finding("violation", "error message claims the input is empty",
                                " | ".join(messages)[:500]))
    if any(canary in text for text in _strings([articles, messages, raw_records])):
        findings.append(Finding("violation", "canary file content leaked into the output",
                                "the external entity's target was read"))
    return findings


def _run_elements(data: bytes, targets: Targets, articles: list[Article]) -> list[Finding]:
    """parse_article on every record of the safely parsed tree; undocumented ValueErrors are
    crashes (through iter_articles they silently drop a record as "skipped")."""
    try:
        root = etree.fromstring(data, cparse.safe_parser())
    except (etree.XMLSyntaxError, ValueError):
        return []
    if root is None:
        return []
    findings: list[Finding] = []
    for elem in root.iter(*RECORD_TAGS):
        try:
            articles.append(targets.parse_article(elem))
        except ValueError as exc:
            if not DOCUMENTED_VALUE_ERRORS.match(str(exc)):
                crash = _crash(exc)
                crash.key = "record silently skipped: " + crash.key
                findings.append(crash)
    return findings


def _check_cache_round_trip(pairs: list[tuple[Article, bytes]], targets: Targets
                            ) -> list[Finding]:
    """The cache stores each record's raw XML and later joins them in one PubmedArticleSet:
    reading that back must give the same records."""
    if not pairs or any(re.search(rb"<PubmedArticle|<PubmedBookArticle", raw[1:])
                        for _, raw in pairs):
        return []  # records nested in records (not PubMed XML) give overlapping raw XML
    joined = wrap_records([raw for _, raw in pairs])
    try:
        again = targets.parse_bytes(joined, "<cache>")
    except CytoreviewError as exc:
        return [Finding("violation", "cached raw record XML cannot be read back",
                        f"{exc} (raw: {pairs[0][1][:300]!r})")]
    if [a.pmid for a, _ in pairs] != [a.pmid for a in again]:
        return [Finding("violation", "cached raw record XML reads back as other records",
                        f"{[a.pmid for a, _ in pairs]} != {[a.pmid for a in again]}")]
    for (first, _), second in zip(pairs, again, strict=True):
        if first != second:
            fields = [f.name for f in dataclasses.fields(Article)
                      if getattr(first, f.name) != getattr(second, f.name)]
            return [Finding("violation", "cached raw record XML reads back differently",
                            f"PMID {first.pmid}: fields {fields} differ")]
    return []


# --- the campaign ---------------------------------------------------------------------------


@dataclass
class Bucket:
    kind: str
    key: str
    count: int = 0
    first_index: int = -1
    detail: str = ""
    saved: list[str] = field(default_factory=list)


@dataclass
class Report:
    seed: int
    inputs: int = 0
    seconds: float = 0.0
    corpus: int = 0
    by_mode: dict[str, int] = field(default_factory=dict)
    with_roles: int = 0
    articles: int = 0
    buckets: dict[str, Bucket] = field(default_factory=dict)
    slowest: tuple[float, int, str] = (0.0, -1, "")
    peak_rss_mb: float = 0.0
    code: dict[str, str] = field(default_factory=dict)

    @property
    def crashes(self) -> list[Bucket]:
        return [b for b in self.buckets.values() if b.kind == "crash"]

    @property
    def violations(self) -> list[Bucket]:
        return [b for b in self.buckets.values() if b.kind == "violation"]

    @property
    def rate(self) -> float:
        return self.inputs / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed, "inputs": self.inputs, "seconds": round(self.seconds, 2),
            "inputs_per_second": round(self.rate, 1), "corpus_documents": self.corpus,
            "by_mode": self.by_mode, "with_roles": self.with_roles, "articles": self.articles,
            "crashes": sum(b.count for b in self.crashes),
            "violations": sum(b.count for b in self.violations),
            "buckets": [dataclasses.asdict(b) for b in self.buckets.values()],
            "slowest": {"seconds": round(self.slowest[0], 3), "index": self.slowest[1],
                        "what": self.slowest[2]},
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "code": self.code,
        }


def _describe(inp: FuzzInput) -> str:
    roles = " +roles" if inp.roles else ""
    transport = f"/{inp.transport}" if inp.mode == "file" else ""
    return (f"#{inp.index} {inp.mode}{transport}{roles} seed={inp.seed_name} "
            f"ops={','.join(inp.ops) or '-'} size={len(inp.data)}")


def _save(out_dir: Path, seed: int, inp: FuzzInput, finding: Finding) -> str:
    out_dir.mkdir(parents=True, exist_ok=True)
    tag = hashlib.sha1(finding.key.encode()).hexdigest()[:8]
    stem = out_dir / f"{finding.kind}-{tag}-{seed}-{inp.index}"
    stem.with_suffix(".xml").write_bytes(inp.data)
    stem.with_suffix(".txt").write_text(
        f"{finding.kind}: {finding.key}\ninput: {_describe(inp)}\n"
        f"replay: python benchmarks/fuzz_parse.py --seed {seed} --replay {inp.index}\n\n"
        f"{finding.detail}\n", encoding="utf-8")
    return str(stem.with_suffix(".xml"))


def _code_fingerprint() -> dict[str, str]:
    """What was fuzzed: the commit and a hash of the modules as they were on disk (the
    working tree may hold uncommitted edits)."""
    out: dict[str, str] = {}
    head = ROOT / ".git" / "HEAD"
    try:
        ref = head.read_text().strip()
        if ref.startswith("ref: "):
            ref = (ROOT / ".git" / ref[5:]).read_text().strip()
        out["commit"] = ref
    except OSError:
        pass
    for module in (cparse, localfiles):
        source = Path(module.__file__ or "")
        if source.exists():
            out[source.name] = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    return out


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Unraisables:
    """Errors Python can only print (``Exception ignored in ...``), e.g. lxml's
    "Tried to unregister unknown proxy" when an element is freed: a sign of a dangling node.
    Collected per input; one freed by the cyclic GC may belong to an earlier input, so
    ``--replay`` (which collects right after the one input) is the precise attribution."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self._old: Callable[[Any], None] | None = None

    def __enter__(self) -> Unraisables:
        self._old = sys.unraisablehook
        sys.unraisablehook = self._hook
        return self

    def __exit__(self, *exc: object) -> None:
        if self._old is not None:
            sys.unraisablehook = self._old

    def _hook(self, info: Any) -> None:
        where = getattr(info.object, "__qualname__", None) or repr(info.object)[:80]
        self.seen.append(f"{info.exc_type.__name__}: {info.exc_value} (in {where})")

    def take(self) -> list[Finding]:
        found = [Finding("crash", f"unraisable {text}", text) for text in self.seen]
        self.seen.clear()
        return found


def _on_alarm(signum: int, frame: Any) -> None:
    raise HardTimeout()


def run_campaign(
    inputs: int,
    seed: int = 0,
    corpus: list[Seed] | None = None,
    targets: Targets | None = None,
    out_dir: Path | None = OUT,
    time_limit: float = 2.0,
    hard_timeout: float | None = 30.0,
    memory_mb: float = 1024.0,
    modes: dict[str, int] | None = None,
    canary_token: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Run ``inputs`` inputs; crashes and violations are counted, deduplicated and saved."""
    corpus = corpus if corpus is not None else load_corpus()
    targets = targets or Targets()
    token = canary_token or "CANARY-" + hashlib.sha256(f"{seed}".encode()).hexdigest()[:24]
    report = Report(seed=seed, corpus=len(corpus), code=_code_fingerprint())
    old_handler = None
    if hard_timeout:
        old_handler = signal.signal(signal.SIGALRM, _on_alarm)
    with tempfile.TemporaryDirectory(prefix="cytoreview-fuzz-") as workdir:
        canary_path = os.path.join(workdir, "canary-secret.txt")
        Path(canary_path).write_text(token + "\n", encoding="utf-8")
        ctx = Context(corpus, canary_path)
        os.makedirs(os.path.join(workdir, "io"), exist_ok=True)
        memory_flagged = False
        started = time.perf_counter()
        unraisables = Unraisables().__enter__()
        try:
            for index in range(inputs):
                inp = make_input(ctx, seed, index, modes)
                report.by_mode[inp.mode] = report.by_mode.get(inp.mode, 0) + 1
                report.with_roles += inp.roles
                t0 = time.perf_counter()
                if hard_timeout:
                    signal.setitimer(signal.ITIMER_REAL, hard_timeout)
                try:
                    findings = run_input(inp, targets, token, os.path.join(workdir, "io"))
                except HardTimeout:
                    findings = [Finding("crash", "hang (hard timeout)",
                                        f"aborted after {hard_timeout} s")]
                finally:
                    if hard_timeout:
                        signal.setitimer(signal.ITIMER_REAL, 0)
                elapsed = time.perf_counter() - t0
                findings.extend(unraisables.take())
                if elapsed > report.slowest[0]:
                    report.slowest = (elapsed, index, _describe(inp))
                if elapsed > time_limit:
                    findings.append(Finding("violation", f"slower than {time_limit} s",
                                            f"{elapsed:.2f} s"))
                rss = _rss_mb()
                report.peak_rss_mb = max(report.peak_rss_mb, rss)
                if rss > memory_mb and not memory_flagged:
                    memory_flagged = True
                    findings.append(Finding("violation", f"peak RSS above {memory_mb} MB",
                                            f"{rss:.0f} MB after this input"))
                for finding in findings:
                    bucket = report.buckets.setdefault(
                        f"{finding.kind}:{finding.key}", Bucket(finding.kind, finding.key))
                    bucket.count += 1
                    if bucket.first_index < 0:
                        bucket.first_index = index
                        bucket.detail = f"{_describe(inp)}\n{finding.detail}"[:4000]
                    if out_dir is not None and len(bucket.saved) < EXAMPLES_PER_KEY:
                        bucket.saved.append(_save(out_dir, seed, inp, finding))
                report.inputs += 1
                if progress and (index + 1) % 10_000 == 0:
                    spent = time.perf_counter() - started
                    progress(f"{index + 1} inputs, {(index + 1) / spent:.0f}/s, "
                             f"{sum(b.count for b in report.crashes)} crashes, "
                             f"{sum(b.count for b in report.violations)} violations, "
                             f"peak RSS {report.peak_rss_mb:.0f} MB")
        finally:
            unraisables.__exit__()
            report.seconds = time.perf_counter() - started
            if old_handler is not None:
                signal.signal(signal.SIGALRM, old_handler)
    return report


def print_report(report: Report, out: Any = sys.stdout) -> None:
    d = report.to_dict()
    print(f"inputs      {d['inputs']} in {d['seconds']} s = {d['inputs_per_second']} inputs/s "
          f"(seed {d['seed']}, {d['corpus_documents']} corpus documents)", file=out)
    print(f"modes       {d['by_mode']}, with roles {d['with_roles']}", file=out)
    print(f"crashes     {d['crashes']} ({len(report.crashes)} distinct)", file=out)
    print(f"violations  {d['violations']} ({len(report.violations)} distinct)", file=out)
    print(f"slowest     {d['slowest']['seconds']} s: {d['slowest']['what']}", file=out)
    print(f"peak RSS    {d['peak_rss_mb']} MB", file=out)
    print(f"code        {d['code']}", file=out)
    for b in report.buckets.values():
        print(f"\n[{b.kind}] {b.key}: {b.count}x, first #{b.first_index}", file=out)
        print("    " + b.detail.strip().replace("\n", "\n    ")[:1500], file=out)
        for path in b.saved[:1]:
            print(f"    saved: {path}", file=out)


def replay(seed: int, index: int, dump: str | None, modes: dict[str, int] | None) -> int:
    corpus = load_corpus()
    with tempfile.TemporaryDirectory(prefix="cytoreview-fuzz-") as workdir:
        token = "CANARY-" + hashlib.sha256(f"{seed}".encode()).hexdigest()[:24]
        canary_path = os.path.join(workdir, "canary-secret.txt")
        Path(canary_path).write_text(token + "\n", encoding="utf-8")
        inp = make_input(Context(corpus, canary_path), seed, index, modes)
        if dump:
            Path(dump).write_bytes(inp.data)
        print(_describe(inp))
        t0 = time.perf_counter()
        with Unraisables() as unraisables:
            findings = run_input(inp, Targets(), token, workdir)
            gc.collect()
            findings.extend(unraisables.take())
        print(f"{time.perf_counter() - t0:.3f} s")
        for f in findings:
            print(f"[{f.kind}] {f.key}\n{f.detail}")
        return 1 if findings else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--inputs", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--smoke", action="store_true", help="about 2,000 inputs (CI)")
    ap.add_argument("--time-limit", type=float, default=2.0, help="seconds per input")
    ap.add_argument("--hard-timeout", type=float, default=30.0, help="abort one input after")
    ap.add_argument("--memory-mb", type=float, default=1024.0, help="peak RSS bound")
    ap.add_argument("--mode", choices=list(MODES), help="only this entry point")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--replay", type=int, metavar="INDEX", help="re-run one input verbosely")
    ap.add_argument("--dump", help="with --replay: write the input's bytes here")
    args = ap.parse_args(argv)
    modes = {args.mode: 1} if args.mode else None
    if args.replay is not None:
        return replay(args.seed, args.replay, args.dump, modes)
    # A runaway allocation becomes a MemoryError (a crash) instead of taking the machine down.
    limit = int(args.memory_mb * 4) * 1024 * 1024
    with_limit = resource.getrlimit(resource.RLIMIT_AS)
    if with_limit[1] == resource.RLIM_INFINITY or with_limit[1] > limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, with_limit[1]))
    inputs = 2_000 if args.smoke else args.inputs
    corpus = load_corpus(real_per_file=40 if args.smoke else 150)
    report = run_campaign(
        inputs, args.seed, corpus, out_dir=args.out, time_limit=args.time_limit,
        hard_timeout=args.hard_timeout, memory_mb=args.memory_mb, modes=modes,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    print_report(report)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"report-{args.seed}-{inputs}.json").write_text(
        json.dumps(report.to_dict(), indent=2), encoding="utf-8")
    return 1 if report.crashes or report.violations else 0


if __name__ == "__main__":
    sys.exit(main())
