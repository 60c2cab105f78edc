"""One PubMed record element (``PubmedArticle`` / ``PubmedBookArticle``) -> :class:`Article`.

Text is flattened here once for every field: inline markup (``<i>``, ``<sup>``, MathML) joins
without inserted spaces, double-escaped entities and escaped HTML are decoded, whitespace runs
collapse. Pure functions of an lxml element; :mod:`cytoreview.parse` feeds them from bytes and
streams.
"""

from __future__ import annotations

import html
import re
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
)

__all__ = ["parse_article", "vocab_text"]

_MATHML = "{http://www.w3.org/1998/Math/MathML}"
# Alternative encodings of a formula (TeX, content MathML) would repeat it in the text.
_SKIPPED_TAGS = frozenset({_MATHML + "annotation", _MATHML + "annotation-xml"})
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_YEAR = re.compile(r"\b(1[5-9]\d\d|2\d\d\d)\b")
# Only entities with their semicolon: html.unescape alone would also turn "&para" or "&copy"
# inside ordinary text into symbols.
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
# HTML that publishers escaped into the text ("&lt;p&gt;...&lt;o:p&gt;"): block tags separate
# words, inline ones must not split them ("CD4<sup>+</sup>"). A tag has attributes with "="
# or none: "values were <b or >c" (inequalities) is text.
_ATTRIBUTES = r"(?:\s+[^<>=]{0,100}=[^<>]{0,200}|\s*)/?>"
_HTML_BLOCK = re.compile(r"</?(?:p|br|div|li|ul|ol|o:p)" + _ATTRIBUTES, re.IGNORECASE)
# JATS names too ("&lt;italic&gt;Monilinia polystroma&lt;/italic&gt;" in a keyword).
_HTML_INLINE = re.compile(r"</?(?:i|b|u|em|strong|sup|sub|span|sc|italic|bold|scp)"
                          + _ATTRIBUTES, re.IGNORECASE)
_AUTHOR_TAGS = (
    "Author",
    "LastName",
    "ForeName",
    "Initials",
    "Suffix",
    "CollectiveName",
    "Affiliation",
    "Identifier",
)
_AUTHOR_SLOTS = {tag: i for i, tag in enumerate(_AUTHOR_TAGS[1:6])}
_ORCID = re.compile(r"[0-9]{15}[0-9Xx]")


# --- text -----------------------------------------------------------------------------------


def _collect(elem: Any, out: list[str]) -> None:
    if elem.text:
        out.append(elem.text)
    for child in elem:
        # Unresolved entity nodes (tag is not a str) carry "&name;" as their text: never
        # content. Their tail is ordinary text and stays.
        if isinstance(child.tag, str) and child.tag not in _SKIPPED_TAGS:
            _collect(child, out)
        if child.tail:
            out.append(child.tail)


def _clean(text: str) -> str:
    if "&" in text:
        # Double-escaped entities ("&amp;lt;", "&amp;#353;") arrive as "&lt;" and "&#353;".
        for _ in range(2):
            unescaped = _ENTITY.sub(lambda m: html.unescape(m.group()), text)
            if unescaped == text:
                break
            text = unescaped
    if "<" in text and ">" in text:
        text = _HTML_INLINE.sub("", _HTML_BLOCK.sub(" ", text))
    return _norm(text)


def _norm(text: str) -> str:
    """Whitespace runs -> one space, ends stripped.

    Most abstracts are already clean; proving that for ASCII text (XML allows no other ASCII
    control whitespace than tab, newline and CR) is several times cheaper than split/join.
    """
    if (
        text.isascii()
        and "  " not in text
        and "\n" not in text
        and "\t" not in text
        and "\r" not in text
        and text[:1] != " "
        and text[-1:] != " "
    ):
        return text
    return " ".join(text.split())


def _text(elem: Any) -> str:
    """All text inside ``elem`` with inline markup (``<i>``, ``<sup>``, MathML) flattened.

    Nothing is inserted between pieces, so "High-dose <i>IL-2</i> therapy" keeps its spaces
    and "CD4<sup>+</sup>" stays one word; whitespace runs collapse to one space. MathML comes
    out as its tokens with the source's spacing ("T 1 , T 2"): gluing msub parts into "T1"
    would read better but would make ~0.1% of 2021 titles and abstracts differ from every
    plain reading of the same XML.
    """
    if elem is None:
        return ""
    if len(elem):
        parts: list[str] = []
        _collect(elem, parts)
        return _clean("".join(parts))
    text = elem.text
    if not text:
        return ""
    if "&" in text or "<" in text:
        return _clean(text)
    if len(text) > 64:
        return _norm(text)
    return " ".join(text.split())


def _vocab(elem: Any) -> str:
    """Text of a controlled-vocabulary element (MeSH, chemicals, publication types): NLM's
    own strings carry no markup, so the cheap path is safe and matters on 30,000 records."""
    text = elem.text
    return " ".join(text.split()) if text and not len(elem) else _text(elem)


def _opt(elem: Any) -> str | None:
    return _text(elem) or None


# --- fields ---------------------------------------------------------------------------------


def _pub_date(pub_date: Any) -> tuple[str | None, int | None]:
    """The date as PubMed prints it ("2004 Oct 15", "1979 Spring", MedlineDate as is) and the
    year: ``Year`` or else the first year in ``MedlineDate``."""
    if pub_date is None:
        return None, None
    year = month = day = season = medline = None
    for child in pub_date:
        tag = child.tag
        value = _vocab(child)
        if tag == "Year":
            year = value
        elif tag == "Month":
            # isascii: "²".isdigit() is True; two digits at most: int() of 4,301 raises.
            numeric = len(value) <= 2 and value.isascii() and value.isdigit()
            month = _MONTHS[int(value) - 1] if numeric and 1 <= int(value) <= 12 else value
        elif tag == "Day":
            day = value
        elif tag == "Season":
            season = value
        elif tag == "MedlineDate":
            medline = " ".join(value.split())
    if medline:
        found = _YEAR.search(medline)
        return medline, int(found.group()) if found else None
    printed = " ".join(p for p in (year, month, day, season) if p) or None
    return printed, _year(year)


def _year(text: str | None) -> int | None:
    # Four digits at most: a longer run is no year, and past 4,300 digits int() raises, which
    # would cost the whole record.
    return int(text) if text and len(text) <= 4 and text.isascii() and text.isdigit() else None


def _orcid(raw: str | None) -> str | None:
    if not raw:
        return None
    compact = raw.replace("-", "").replace(" ", "")
    found = _ORCID.search(compact)
    if found:
        digits = found.group().upper()
        return "-".join(digits[i : i + 4] for i in range(0, 16, 4))
    # Malformed (too few digits): keep what NLM has, minus the URL, rather than lose it.
    stripped = raw.strip()
    return stripped.rsplit("/", 1)[-1] or None


def _authors(author_list: Any) -> tuple[Author, ...]:
    if author_list is None:
        return ()
    authors = []
    # One flat C-level walk over the wanted tags is much cheaper than visiting each Author's
    # children (AffiliationInfo wrappers included) from Python.
    parts: list[Any] = []
    affiliations: list[str] = []
    for elem in author_list.iter(*_AUTHOR_TAGS):
        tag = elem.tag
        if tag == "Author":
            if parts:
                authors.append(_author(parts, affiliations))
            parts = [None, None, None, None, None, None]
            affiliations = []
        elif not parts:
            continue
        elif tag == "Affiliation":
            text = _text(elem)
            if text:
                affiliations.append(text)
        elif tag == "Identifier":
            if elem.get("Source") == "ORCID" and parts[5] is None:
                parts[5] = _orcid(_vocab(elem))
        else:
            parts[_AUTHOR_SLOTS[tag]] = _text(elem) or None
    if parts:
        authors.append(_author(parts, affiliations))
    return tuple(authors)


def _author(parts: list[Any], affiliations: list[str]) -> Author:
    last, fore, initials, suffix, collective, orcid = parts
    return Author(last, fore, initials, suffix, collective, tuple(affiliations), orcid)


def _abstract(abstract: Any) -> tuple[str, tuple[Section, ...]]:
    """The section texts joined by single spaces, and each section's offsets into them.

    A label-only or empty ``AbstractText`` adds no text (no stray space either) and gets an
    empty section at the position where it stood, so ``abstract[start:end] == text`` holds.
    """
    if abstract is None:
        return "", ()
    texts: list[str] = []
    sections: list[Section] = []
    pos = 0
    for part in abstract.iterchildren("AbstractText"):
        text = _text(part)
        label = part.get("Label") or None
        category = part.get("NlmCategory") or None
        if text:
            if texts:
                pos += 1
            start = pos
            pos += len(text)
            texts.append(text)
            sections.append(Section(label, category, text, start, pos))
        else:
            sections.append(Section(label, category, "", pos, pos))
    return " ".join(texts), tuple(sections)


def _mesh(mesh_list: Any) -> tuple[MeshHeading, ...]:
    if mesh_list is None:
        return ()
    headings: list[MeshHeading] = []
    descriptor: Any = None
    qualifiers: list[MeshQualifier] = []
    # The DTD puts each DescriptorName before its QualifierNames, so one flat walk groups them.
    for elem in mesh_list.iter("DescriptorName", "QualifierName"):
        if elem.tag == "DescriptorName":
            if descriptor is not None:
                headings.append(_heading(descriptor, qualifiers))
            descriptor = elem
            qualifiers = []
        else:
            qualifiers.append(_shared(MeshQualifier, elem))
    if descriptor is not None:
        headings.append(_heading(descriptor, qualifiers))
    return tuple(headings)


#: MeSH terms repeat across records ("Humans" in most of them); the objects are immutable, so
#: records share one per (text, UI, major topic) instead of building it again. Bounded.
_SHARED: dict[tuple[Any, ...], Any] = {}
_SHARED_MAX = 100_000


def _shared(cls: Any, elem: Any) -> Any:
    if len(elem):  # markup or entity references inside: .text alone would not identify it
        return cls(_vocab(elem), elem.get("UI"), elem.get("MajorTopicYN") == "Y")
    key = (cls, elem.text, elem.get("UI"), elem.get("MajorTopicYN"))
    found = _SHARED.get(key)
    if found is None:
        if len(_SHARED) >= _SHARED_MAX:
            _SHARED.clear()
        found = _SHARED[key] = cls(_vocab(elem), key[2], key[3] == "Y")
    return found


def _heading(descriptor: Any, qualifiers: list[MeshQualifier]) -> MeshHeading:
    if not qualifiers:
        shared: MeshHeading = _shared(MeshHeading, descriptor)
        return shared
    return MeshHeading(
        _vocab(descriptor),
        descriptor.get("UI"),
        descriptor.get("MajorTopicYN") == "Y",
        tuple(qualifiers),
    )


def _chemicals(chemical_list: Any) -> tuple[Chemical, ...]:
    if chemical_list is None:
        return ()
    chemicals = []
    registry = None
    for elem in chemical_list.iter("RegistryNumber", "NameOfSubstance"):
        if elem.tag == "RegistryNumber":
            registry = _vocab(elem) or None
        else:
            # RegistryNumber precedes NameOfSubstance inside each Chemical.
            chemicals.append(Chemical(_vocab(elem), elem.get("UI"), registry))
            registry = None
    return tuple(chemicals)


def _comments(comments_list: Any) -> tuple[CommentCorrection, ...]:
    if comments_list is None:
        return ()
    items = []
    for item in comments_list.iterchildren("CommentsCorrections"):
        source = pmid = None
        for child in item:
            if child.tag == "RefSource":
                source = _text(child) or None
            elif child.tag == "PMID":
                pmid = _vocab(child) or None
        items.append(CommentCorrection(item.get("RefType") or "", source, pmid))
    return tuple(items)


def _other_abstract(elem: Any) -> OtherAbstract:
    texts = [t for t in (_text(p) for p in elem.iterchildren("AbstractText")) if t]
    return OtherAbstract(elem.get("Type"), elem.get("Language"), " ".join(texts))


def _article_ids(id_list: Any) -> tuple[str | None, str | None]:
    """DOI and PMCID from the record's own ``ArticleIdList`` (never a reference's)."""
    doi = pmcid = None
    if id_list is not None:
        for article_id in id_list.iterchildren("ArticleId"):
            id_type = article_id.get("IdType")
            value = _vocab(article_id)
            if not value:
                continue  # <ArticleId IdType="doi"/> occurs in 20n0014
            if id_type == "doi" and doi is None:
                doi = value
            elif id_type == "pmc" and pmcid is None:
                pmcid = value
    return doi, pmcid


def _elocation_doi(elocations: list[Any]) -> str | None:
    valid = [e for e in elocations if e.get("EIdType") == "doi" and _vocab(e)]
    valid.sort(key=lambda e: e.get("ValidYN") == "N")
    return _vocab(valid[0]) if valid else None


def _is_retracted(comments: tuple[CommentCorrection, ...], types: tuple[str, ...]) -> bool:
    return "Retracted Publication" in types or any(c.ref_type == "RetractionIn" for c in comments)


# --- records --------------------------------------------------------------------------------


def _pubmed_article(record: Any) -> Article:
    parts = {child.tag: child for child in record}
    citation = parts.get("MedlineCitation")
    if citation is None:
        raise ValueError("PubmedArticle without MedlineCitation")
    pmid = ""
    article = mesh = chemicals = comments = None
    keywords: list[str] = []
    other_abstracts: list[OtherAbstract] = []
    for child in citation:
        tag = child.tag
        if tag == "PMID":
            pmid = _vocab(child)
        elif tag == "Article":
            article = child
        elif tag == "MeshHeadingList":
            mesh = child
        elif tag == "ChemicalList":
            chemicals = child
        elif tag == "KeywordList":
            keywords.extend(t for t in (_text(k) for k in child.iterchildren("Keyword")) if t)
        elif tag == "CommentsCorrectionsList":
            comments = child
        elif tag == "OtherAbstract":
            other_abstracts.append(_other_abstract(child))
    if not pmid:
        raise ValueError("PubmedArticle without PMID")

    title_elem = vernacular = abstract = authors = journal = pagination = pub_types = None
    languages: list[str] = []
    elocations: list[Any] = []
    if article is not None:
        for child in article:
            tag = child.tag
            if tag == "Journal":
                journal = child
            elif tag == "ArticleTitle":
                title_elem = child
            elif tag == "Pagination":
                pagination = child
            elif tag == "ELocationID":
                elocations.append(child)
            elif tag == "Abstract":
                abstract = child
            elif tag == "AuthorList":
                authors = child
            elif tag == "Language":
                lang = _vocab(child)
                if lang:
                    languages.append(lang)
            elif tag == "PublicationTypeList":
                pub_types = child
            elif tag == "VernacularTitle":
                vernacular = _opt(child)

    journal_title = journal_iso = volume = issue = pub_date = None
    year = None
    if journal is not None:
        for child in journal:
            tag = child.tag
            if tag == "Title":
                journal_title = _opt(child)
            elif tag == "ISOAbbreviation":
                journal_iso = _opt(child)
            elif tag == "JournalIssue":
                issue_parts = {c.tag: c for c in child}
                volume = _opt(issue_parts.get("Volume"))
                issue = _opt(issue_parts.get("Issue"))
                pub_date, year = _pub_date(issue_parts.get("PubDate"))

    pages = None
    if pagination is not None:
        page_parts = {c.tag: c for c in pagination}
        pages = _opt(page_parts.get("MedlinePgn"))
        if pages is None:
            first = _opt(page_parts.get("StartPage"))
            last = _opt(page_parts.get("EndPage"))
            pages = f"{first}-{last}" if first and last else first

    publication_types = (
        tuple([t for t in [_vocab(p) for p in pub_types.iterchildren("PublicationType")] if t])
        if pub_types is not None
        else ()
    )
    data = parts.get("PubmedData")
    doi, pmcid = _article_ids(
        next(data.iterchildren("ArticleIdList"), None) if data is not None else None
    )
    comment_items = _comments(comments)
    text, sections = _abstract(abstract)
    return Article(
        pmid=pmid,
        title=_text(title_elem),
        abstract=text,
        doi=doi or _elocation_doi(elocations),
        pmcid=pmcid,
        journal=journal_title,
        journal_iso=journal_iso,
        volume=volume,
        issue=issue,
        pages=pages,
        pub_date=pub_date,
        year=year,
        authors=_authors(authors),
        languages=tuple(languages),
        keywords=tuple(keywords),
        mesh_headings=_mesh(mesh),
        chemicals=_chemicals(chemicals),
        publication_types=publication_types,
        sections=sections,
        other_abstracts=tuple(other_abstracts),
        vernacular_title=vernacular,
        comments_corrections=comment_items,
        retracted=_is_retracted(comment_items, publication_types),
        record_type="article",
    )


def _book_article(record: Any) -> Article:
    document = record.find("BookDocument")
    if document is None:
        raise ValueError("PubmedBookArticle without BookDocument")
    pmid = _text(document.find("PMID"))
    if not pmid:
        raise ValueError("PubmedBookArticle without PMID")
    book = document.find("Book")
    book_title = _text(book.find("BookTitle")) if book is not None else ""
    pub_date, year = _pub_date(book.find("PubDate") if book is not None else None)
    doi, pmcid = _article_ids(document.find("ArticleIdList"))
    if doi is None or pmcid is None:
        more_doi, more_pmcid = _article_ids(record.find("PubmedBookData/ArticleIdList"))
        doi, pmcid = doi or more_doi, pmcid or more_pmcid
    # The document's own AuthorList; a Type="editors" list (the book's, or the document's)
    # names the book's editors.
    author_list = next(
        (a for a in document.iterchildren("AuthorList") if a.get("Type") != "editors"), None
    )
    editor_list = next(
        (
            a
            for parent in (book, document)
            if parent is not None
            for a in parent.iterchildren("AuthorList")
            if a.get("Type") == "editors"
        ),
        None,
    )
    keywords = [
        t
        for kl in document.iterchildren("KeywordList")
        for t in (_text(k) for k in kl.iterchildren("Keyword"))
        if t
    ]
    types = tuple(t for t in (_text(p) for p in document.iterchildren("PublicationType")) if t)
    vernacular = _opt(document.find("VernacularTitle"))
    text, sections = _abstract(document.find("Abstract"))
    return Article(
        pmid=pmid,
        title=_text(document.find("ArticleTitle")) or book_title or "",
        abstract=text,
        doi=doi or _elocation_doi(list(document.iterchildren("ELocationID"))),
        pmcid=pmcid,
        volume=_opt(book.find("Volume")) if book is not None else None,
        pub_date=pub_date,
        year=year,
        authors=_authors(author_list),
        languages=tuple(t for t in (_text(x) for x in document.iterchildren("Language")) if t),
        keywords=tuple(keywords),
        publication_types=types,
        sections=sections,
        vernacular_title=vernacular,
        retracted=_is_retracted((), types),
        record_type="book",
        book_title=book_title or None,
        publisher=_opt(book.find("Publisher/PublisherName")) if book is not None else None,
        editors=_authors(editor_list),
        publisher_location=(
            _opt(book.find("Publisher/PublisherLocation")) if book is not None else None
        ),
    )


def parse_article(elem: Any) -> Article:
    """One ``PubmedArticle`` or ``PubmedBookArticle`` element -> :class:`Article`.

    Raises ``ValueError`` for any other element, or a record without a PMID.
    """
    if elem.tag == "PubmedArticle":
        return _pubmed_article(elem)
    if elem.tag == "PubmedBookArticle":
        return _book_article(elem)
    raise ValueError(f"not a PubMed record: <{elem.tag}>")


#: For the stream reader: ``DeleteCitation`` PMIDs are vocabulary-like text.
vocab_text = _vocab
