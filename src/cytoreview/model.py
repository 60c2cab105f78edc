"""The records cytoreview produces: frozen dataclasses, and their JSON form.

Everything downstream (roles, render, export) reads these; only :mod:`cytoreview.parse` builds
them from XML. ``Article.to_json`` writes the JSON record of INTERFACE.md (``to_dict`` is the
same record read back as plain dicts); one method fixes its keys.

The records that orjson writes field by field (sentences, sections, MeSH headings and their
qualifiers, chemicals, comments, other abstracts) have no ``__slots__``: orjson reads a
dataclass's ``__dict__`` in one step but falls back to one attribute lookup per field with
slots, four times slower (385 against 90 ns per heading; 0.11 s of the 0.55 s that writing
pubmed20n0014 as JSON costs). The rest keep their slots. The price is memory where all of a
file's records are held at once: parse_file on pubmed20n0014 peaks at 269 MB instead of 238.
"""

from __future__ import annotations

import dataclasses
import operator
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import orjson

Role = Literal["background", "purpose", "methods", "findings", "conclusions"]
ROLES: tuple[Role, ...] = ("background", "purpose", "methods", "findings", "conclusions")

#: NLM's NlmCategory values and the role each maps to one to one. UNASSIGNED is absent on
#: purpose: its sentences are predicted like unlabelled text.
NLM_CATEGORY_ROLE: dict[str, Role] = {
    "BACKGROUND": "background",
    "OBJECTIVE": "purpose",
    "METHODS": "methods",
    "RESULTS": "findings",
    "CONCLUSIONS": "conclusions",
}

#: Where a sentence's role came from.
RoleSource = Literal["nlm", "model"]

_T = TypeVar("_T")


class _Factory:
    def __repr__(self) -> str:
        return "<factory>"  # what dataclasses shows in the signature


_NO_ARG: Any = _Factory()


def _fast_init(cls: type[_T]) -> type[_T]:
    """Give a frozen dataclass a faster ``__init__`` with the same signature and effect.

    The generated one sets each field through ``object.__setattr__``, looked up per field:
    2.8 us for an Article, which every record is built as twice (parsed, then with roles).
    This one sets slots through their descriptors, or fills a dict-based instance's
    ``__dict__`` directly: about half the time (tests/test_parse.py holds it to the
    dataclass's own). Dict-based classes also read pickles of their slotted versions.
    """
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if any(not f.init or f.kw_only for f in fields) or hasattr(cls, "__post_init__"):
        return cls
    slotted = "__slots__" in cls.__dict__
    space: dict[str, Any] = {"_NO_ARG": _NO_ARG}
    params, body = [], []
    for i, f in enumerate(fields):
        if f.default is not dataclasses.MISSING:
            space[f"_default{i}"] = f.default
            params.append(f"{f.name}=_default{i}")
        elif f.default_factory is not dataclasses.MISSING:
            space[f"_factory{i}"] = f.default_factory
            params.append(f"{f.name}=_NO_ARG")
            body.append(f"if {f.name} is _NO_ARG: {f.name} = _factory{i}()")
        else:
            params.append(f.name)
        if slotted:
            space[f"_set{i}"] = getattr(cls, f.name).__set__
            body.append(f"_set{i}(self, {f.name})")
    if not slotted:
        # A name no field can have: in a class body, __own_dict would become _Cls__own_dict.
        body.append("__own_dict = self.__dict__")
        body += [f"__own_dict[{f.name!r}] = {f.name}" for f in fields]
        cls.__setstate__ = _setstate  # type: ignore[attr-defined]
    source = f"def __init__(self, {', '.join(params)}):\n" + "".join(f"    {b}\n" for b in body)
    exec(source, space)  # our own field names, as dataclasses itself does
    init = space["__init__"]
    standard = cls.__init__
    init.__qualname__, init.__module__ = standard.__qualname__, standard.__module__
    init.__doc__, init.__annotations__ = standard.__doc__, standard.__annotations__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


def _setstate(self: Any, state: Any) -> None:
    """Unpickle: the instance's dict, or the list of field values that the slotted versions of
    these classes (before Sentence, Section and the MeSH classes lost their slots) pickled."""
    if isinstance(state, list):
        state = dict(zip([f.name for f in dataclasses.fields(self)], state, strict=True))
    self.__dict__.update(state)


@_fast_init
@dataclass(frozen=True, slots=True)
class Author:
    """One ``AuthorList/Author``: a person or a collective (``CollectiveName``)."""

    last_name: str | None = None
    fore_name: str | None = None
    initials: str | None = None
    suffix: str | None = None
    collective_name: str | None = None
    affiliations: tuple[str, ...] = ()
    orcid: str | None = None

    @property
    def name(self) -> str:
        """The name as PubMed cites it: ``Wysocki PJ``, or the collective's name."""
        if self.collective_name:
            return self.collective_name
        given = self.initials or self.fore_name
        if self.last_name and given and not self.suffix:  # most authors
            return f"{self.last_name} {given}"
        return " ".join(filter(None, (self.last_name, given, self.suffix)))

    @property
    def full_name(self) -> str:
        """``Piotr J Wysocki``: for display where space allows."""
        if self.collective_name:
            return self.collective_name
        parts = [p for p in (self.fore_name or self.initials, self.last_name, self.suffix) if p]
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "last_name": self.last_name,
            "fore_name": self.fore_name,
            "initials": self.initials,
            "suffix": self.suffix,
            "collective_name": self.collective_name,
            "affiliations": list(self.affiliations),
            "orcid": self.orcid,
        }


@_fast_init
@dataclass(frozen=True)  # no slots: see the module docstring
class MeshQualifier:
    name: str
    ui: str | None = None
    major_topic: bool = False


@_fast_init
@dataclass(frozen=True)  # no slots: see the module docstring
class MeshHeading:
    """One ``MeshHeading``: its descriptor and qualifiers, each with the major-topic flag."""

    descriptor: str
    ui: str | None = None
    major_topic: bool = False
    qualifiers: tuple[MeshQualifier, ...] = ()


@_fast_init
@dataclass(frozen=True)  # no slots: see the module docstring
class Chemical:
    name: str
    ui: str | None = None
    registry_number: str | None = None


@_fast_init
@dataclass(frozen=True)  # no slots: see the module docstring
class CommentCorrection:
    """One ``CommentsCorrections`` entry, e.g. ``RetractionIn`` or ``ErratumIn``."""

    ref_type: str
    ref_source: str | None = None
    pmid: str | None = None


@_fast_init
@dataclass(frozen=True)  # no slots: see the module docstring
class OtherAbstract:
    """``OtherAbstract``: an abstract in another language or from another source (PIP, KIE)."""

    type: str | None
    language: str | None
    text: str


@_fast_init
@dataclass(frozen=True)  # no slots: see the module docstring
class Section:
    """One ``AbstractText``: ``abstract[start:end] == text``."""

    label: str | None
    category: str | None
    text: str
    start: int
    end: int


@_fast_init
@dataclass(frozen=True)  # no slots: see the module docstring
class Sentence:
    """``abstract[start:end]`` is the sentence. ``source`` says where ``role`` came from;
    ``confidence`` is calibrated and rounded to 4 places (1.0 for NLM's own labels)."""

    start: int
    end: int
    role: Role
    confidence: float
    source: RoleSource
    label: str | None = None


@_fast_init
@dataclass(frozen=True, slots=True)
class Summary:
    """Every sentence of a role joined (the single-article view), plus one key sentence per
    role for compact views. ``source`` is ``nlm``, ``model``, ``mixed`` or ``none``."""

    background: str = ""
    purpose: str = ""
    methods: str = ""
    findings: str = ""
    conclusions: str = ""
    key_purpose: str = ""
    key_findings: str = ""
    key_conclusions: str = ""
    source: str = "none"

    def to_dict(self) -> dict[str, Any]:
        return {
            "purpose": self.purpose,
            "findings": self.findings,
            "conclusions": self.conclusions,
            "background": self.background,
            "methods": self.methods,
            "key_purpose": self.key_purpose,
            "key_findings": self.key_findings,
            "key_conclusions": self.key_conclusions,
            "source": self.source,
        }


@_fast_init
@dataclass(frozen=True, slots=True)
class Article:
    """One PubMed record (``PubmedArticle`` or ``PubmedBookArticle``).

    ``sentences`` and ``summary`` are empty until :func:`cytoreview.roles.annotate` fills them.
    """

    pmid: str
    title: str
    abstract: str = ""
    doi: str | None = None
    pmcid: str | None = None
    journal: str | None = None
    journal_iso: str | None = None
    volume: str | None = None
    issue: str | None = None
    pages: str | None = None
    pub_date: str | None = None
    year: int | None = None
    authors: tuple[Author, ...] = ()
    languages: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    mesh_headings: tuple[MeshHeading, ...] = ()
    chemicals: tuple[Chemical, ...] = ()
    publication_types: tuple[str, ...] = ()
    sections: tuple[Section, ...] = ()
    other_abstracts: tuple[OtherAbstract, ...] = ()
    vernacular_title: str | None = None
    comments_corrections: tuple[CommentCorrection, ...] = ()
    retracted: bool = False
    record_type: Literal["article", "book"] = "article"
    book_title: str | None = None  # books and book chapters: ``Book/BookTitle``
    publisher: str | None = None  # books: ``Book/Publisher/PublisherName``
    publisher_location: str | None = None  # books: ``Book/Publisher/PublisherLocation``
    editors: tuple[Author, ...] = ()  # books: the book's ``AuthorList Type="editors"``
    sentences: tuple[Sentence, ...] = ()
    summary: Summary = field(default_factory=Summary)

    @property
    def structured(self) -> bool:
        """True when at least one section carries an NLM category that maps to a role."""
        return any(s.category in NLM_CATEGORY_ROLE for s in self.sections)

    @property
    def pubmed_url(self) -> str:
        return f"https://pubmed.ncbi.nlm.nih.gov/{self.pmid}/"

    @property
    def doi_url(self) -> str | None:
        return f"https://doi.org/{self.doi}" if self.doi else None

    @property
    def mesh_terms(self) -> tuple[str, ...]:
        return tuple(map(_DESCRIPTOR, self.mesh_headings))

    @property
    def display_title(self) -> str:
        """The title to show: ``title`` (the ArticleTitle, as INTERFACE.md defines it), else
        the title in the original language when NLM gave no English one (``<ArticleTitle/>``
        with a ``VernacularTitle``), as PubMed's own page does."""
        return self.title or self.vernacular_title or ""

    @property
    def container(self) -> str | None:
        """Where the record appeared: the journal, or for a book chapter the book."""
        return self.journal or self.book_title

    def sentence_text(self, sentence: Sentence) -> str:
        return self.abstract[sentence.start : sentence.end]

    def to_dict(self) -> dict[str, Any]:
        """The JSON record of INTERFACE.md (required keys first, then the extras), as plain
        dicts, lists and scalars: exactly what the JSON output reads back as (so NaN comes
        back as None, and a value JSON cannot hold raises ``orjson.JSONEncodeError``)."""
        record: dict[str, Any] = orjson.loads(self.to_json())
        return record

    def to_json(self, option: int = 0) -> bytes:
        """The JSON record as UTF-8 (``option``: orjson's, e.g. ``orjson.OPT_INDENT_2``)."""
        return orjson.dumps(self._json_record(), default=_plain_float, option=option)

    def _json_record(self) -> dict[str, Any]:
        # The one place that fixes the top-level JSON keys. Nested records stay frozen
        # dataclasses and tuples: orjson writes those field by field in C, several times
        # faster than building dicts and lists first, so their field names and order are the
        # nested keys (tests/test_export.py holds them to the documented ones).
        author_details = [a.to_dict() for a in self.authors]
        return {
            "pmid": self.pmid,
            "doi": self.doi,
            "title": self.title,
            "journal": self.journal,
            "year": self.year,
            "authors": [d["name"] for d in author_details],
            "mesh_terms": list(map(_DESCRIPTOR, self.mesh_headings)),
            "publication_types": self.publication_types,
            "abstract": self.abstract,
            "sentences": self.sentences,
            "summary": self.summary.to_dict(),
            "pmcid": self.pmcid,
            "journal_iso": self.journal_iso,
            "volume": self.volume,
            "issue": self.issue,
            "pages": self.pages,
            "pub_date": self.pub_date,
            "record_type": self.record_type,
            "book_title": self.book_title,
            "publisher": self.publisher,
            "publisher_location": self.publisher_location,
            "editors": [e.name for e in self.editors],
            "retracted": self.retracted,
            "vernacular_title": self.vernacular_title,
            "languages": self.languages,
            "keywords": self.keywords,
            "author_details": author_details,
            "editor_details": [e.to_dict() for e in self.editors],
            "mesh_headings": self.mesh_headings,
            "chemicals": self.chemicals,
            "sections": self.sections,
            "other_abstracts": self.other_abstracts,
            "comments_corrections": self.comments_corrections,
            "url": self.pubmed_url,
        }


_DESCRIPTOR = operator.attrgetter("descriptor")


def _plain_float(value: object) -> object:
    """What orjson does not take itself: float subclasses such as numpy's float64, which a
    library caller may put in a record they build (json.dumps wrote those as floats)."""
    if isinstance(value, float):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
