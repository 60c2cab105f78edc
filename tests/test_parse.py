"""The parser on real PubMed records (cut from ../shared/data) and on hostile XML."""

from __future__ import annotations

import io
import json
import pickle
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from cytoreview.citations import ris_record
from cytoreview.errors import UnreadableFile
from cytoreview.model import Article
from cytoreview.parse import (
    ParseStats,
    iter_articles,
    parse_article,
    parse_bytes,
    parse_records,
)

FIXTURES = Path(__file__).parent / "fixtures" / "xml"
DELETED_IN_1298 = 20


@cache
def records(name: str) -> dict[str, Article]:
    return {a.pmid: a for a in parse_bytes((FIXTURES / name).read_bytes(), name)}


def old(pmid: str) -> Article:
    return records("pubmed20n0014_cases.xml")[pmid]


def new(pmid: str) -> Article:
    return records("pubmed21n1298_cases.xml")[pmid]


def plain_text(elem: etree._Element | None) -> str:
    """The independent reading: every text node, whitespace collapsed."""
    return " ".join("".join(elem.itertext()).split()) if elem is not None else ""


def record_xml(name: str, pmid: str) -> etree._Element:
    tree = etree.parse(str(FIXTURES / name))
    for rec in tree.getroot():
        if rec.findtext("MedlineCitation/PMID") == pmid:
            return rec
    raise KeyError(pmid)


# --- text fidelity --------------------------------------------------------------------------


def test_italic_in_title_neither_glues_nor_splits_words() -> None:
    title = new("31359772").title
    assert title == (
        "Isolation of cytotoxic sesquiterpene lactones from the Tanacetopsis karataviensis "
        "(Kovalevsk.) Kovalevsk."
    )


def test_bold_sup_sub_underline_in_abstract_are_flattened() -> None:
    abstract = new("34088739").abstract
    assert "distribution volume(Vd; 0.34)" in abstract  # <sub>d</sub> joins its word
    assert "grade >3 irAEs" in abstract  # <u>&gt;</u>3: the underlined sign stays
    assert "<" not in new("33955747").abstract.replace("<0", "")


def test_mathml_becomes_plain_readable_text() -> None:
    article = new("33780037")
    assert article.title == (
        "Free-breathing simultaneous T 1 , T 2 , and T 2 ∗ quantification in the myocardium."
    )
    assert "mml" not in article.abstract and "http://" not in article.abstract
    assert "T 2 ∗ mapping" in article.keywords


def test_text_equals_an_independent_lxml_reading_after_whitespace_normalisation() -> None:
    for pmid in ("33780037", "31359772", "34088739", "33955747"):
        rec = record_xml("pubmed21n1298_cases.xml", pmid)
        article = parse_article(rec)
        assert article.title == plain_text(rec.find("MedlineCitation/Article/ArticleTitle"))
        parts = [plain_text(a) for a in rec.iterfind(".//Abstract/AbstractText")]
        assert article.abstract == " ".join(p for p in parts if p)


def test_double_escaped_entities_are_decoded() -> None:
    # The XML says "(P&amp;lt;0.05)": the publisher escaped twice.
    assert "(P<0.05)" in new("31845223").abstract
    assert "&lt;" not in new("31845223").abstract
    # "&amp;#353;" in a Czech vernacular title
    assert new("33752403").vernacular_title == (
        "Zvýšení sérových hladin S100-A11 a AIF-1 u pacientek s dysplazií děložního hrdla."
    )


def test_html_escaped_into_an_abstract_is_dropped() -> None:
    abstract = new("34091678").abstract
    assert abstract.startswith("Immediate fixed full arch rehabilitation")
    assert "<p>" not in abstract and "o:p" not in abstract and "&nbsp;" not in abstract


@pytest.mark.parametrize(
    ("escaped", "text"),
    [
        ("CD4&amp;lt;sup&amp;gt;+&amp;lt;/sup&amp;gt; cells", "CD4+ cells"),
        ("&lt;p class=&quot;x&quot;&gt;One.&lt;/p&gt;&lt;p /&gt;Two.", "One. Two."),
        ("&lt;b style='color:red' &gt;bold&lt;/b &gt; text", "bold text"),
        # JATS names, as in PMID 34096771's keyword
        ("&lt;italic&gt;Monilinia polystroma&lt;/italic&gt;", "Monilinia polystroma"),
        ("&lt;bold&gt;P&lt;/bold&gt; &lt;scp&gt;value&lt;/scp&gt;", "P value"),
        # Inequalities, not tags: nothing between them may go.
        ("values &lt;b or &gt;c, x&lt;i and y&gt;j", "values <b or >c, x<i and y>j"),
    ],
)
def test_escaped_html_tags_go_and_inequalities_stay(escaped: str, text: str) -> None:
    record = (
        "<PubmedArticle><MedlineCitation><PMID>1</PMID><Article><ArticleTitle>"
        f"{escaped}</ArticleTitle></Article></MedlineCitation></PubmedArticle>"
    )
    assert parse_bytes(record.encode())[0].title == text


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(alphabet="abcXYZ-+()0123456789αβ", min_size=1, max_size=8),
            st.sampled_from([None, "i", "b", "sup", "sub", "u"]),
            st.sampled_from(["", " ", "  ", "\n  "]),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_inline_markup_never_adds_or_removes_a_space(
    pieces: list[tuple[str, str | None, str]],
) -> None:
    xml = "".join(f"<{t}>{w}</{t}>{sep}" if t else f"{w}{sep}" for w, t, sep in pieces)
    record = (
        "<PubmedArticle><MedlineCitation><PMID>1</PMID><Article>"
        f"<ArticleTitle>{xml}</ArticleTitle></Article></MedlineCitation></PubmedArticle>"
    )
    expected = " ".join("".join(w + sep for w, _, sep in pieces).split())
    assert parse_bytes(record.encode())[0].title == expected


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab Zé-.,;()\t\n\r\xa0\u2009\u3000αβ")), max_size=300))
def test_whitespace_is_normalised_like_split_and_join(text: str) -> None:
    escaped = text.replace("\r", "&#13;")  # a raw CR would become LF in any XML parser
    record = (
        "<PubmedArticle><MedlineCitation><PMID>1</PMID><Article><ArticleTitle>"
        f"{escaped}</ArticleTitle><Abstract><AbstractText>{escaped} {escaped}</AbstractText>"
        "</Abstract></Article></MedlineCitation></PubmedArticle>"
    )
    (article,) = parse_bytes(record.encode())
    assert article.title == " ".join(text.split())
    assert article.abstract == " ".join(f"{text} {text}".split())


# --- abstract sections ----------------------------------------------------------------------


def all_records() -> list[Article]:
    return [*records("pubmed20n0014_cases.xml").values(),
            *records("pubmed21n1298_cases.xml").values(),
            *records("book_article.xml").values()]


def test_section_offsets_point_into_the_abstract() -> None:
    for article in all_records():
        for section in article.sections:
            assert article.abstract[section.start : section.end] == section.text
        assert article.abstract == " ".join(s.text for s in article.sections if s.text)


def test_label_only_section_adds_no_text_but_keeps_its_label() -> None:
    article = new("31617889")
    last = article.sections[-1]
    assert (last.label, last.text) == ("LEVEL OF EVIDENCE: 4", "")
    assert last.start == last.end == len(article.abstract)
    assert not article.abstract.endswith(" ")
    assert "LEVEL OF EVIDENCE" not in article.abstract


def test_unassigned_sections_keep_label_and_category_without_labels_in_text() -> None:
    article = new("29892698")
    assert [s.label for s in article.sections] == ["Objective", "Methods", "Results",
                                                   "Conclusions"]
    assert {s.category for s in article.sections} == {"UNASSIGNED"}
    assert article.abstract.startswith("To conduct a systematic review")
    assert not article.structured


def test_nlm_categories_are_kept() -> None:
    article = new("34088739")
    assert [s.category for s in article.sections] == [
        "BACKGROUND", "METHODS", "RESULTS", "CONCLUSIONS"]
    assert article.structured


# --- titles, dates, identifiers -------------------------------------------------------------


def test_an_empty_article_title_is_empty_and_shown_in_the_original_language() -> None:
    # INTERFACE.md's title is the ArticleTitle text: "" here, not the German vernacular
    # title (43 records of the 2021 file). Views and citations show the vernacular one.
    article = new("34086202")
    assert article.title == ""
    assert article.display_title == "Die erste Seite." == article.vernacular_title
    assert article.to_dict()["title"] == ""
    assert "TI  - Die erste Seite." in ris_record(article).splitlines()


def test_bracketed_translated_title_is_kept_with_its_vernacular() -> None:
    article = old("399297")
    assert article.title == "[The pineal body]."
    assert article.vernacular_title == "Die pineale klier."
    assert article.languages == ("afr",)


@pytest.mark.parametrize(
    ("pmid", "pub_date", "year"),
    [
        ("399319", "1979 Jul-Sep", 1979),  # MedlineDate
        ("401078", "1979 Nov-Dec", 1979),
        ("399332", "1979 Spring", 1979),  # Season
        ("399321", "1979 Jan 18", 1979),
        ("399296", "1979 Jun", 1979),
    ],
)
def test_publication_date_as_printed(pmid: str, pub_date: str, year: int) -> None:
    assert (old(pmid).pub_date, old(pmid).year) == (pub_date, year)


@pytest.mark.parametrize("digits", [23, 5000])
def test_an_absurd_year_or_month_leaves_the_record_with_no_year(digits: int) -> None:
    # 5,000 digits is past int()'s limit: the record used to be skipped whole.
    date = f"<Year>{'9' * digits}</Year><Month>{'1' * digits}</Month>"
    xml = (f"<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID><Article><Journal>"
           f"<JournalIssue><PubDate>{date}</PubDate></JournalIssue></Journal>"
           f"<ArticleTitle>T</ArticleTitle></Article></MedlineCitation></PubmedArticle>"
           f"</PubmedArticleSet>").encode()
    stats = ParseStats()
    (article,) = parse_bytes(xml, "absurd.xml", stats)
    assert (article.pmid, article.year, stats.skipped) == ("1", None, 0)


def test_journal_fields() -> None:
    article = old("399321")
    assert (article.journal, article.journal_iso, article.volume, article.issue, article.pages) \
        == ("Nature", "Nature", "277", "5693", "225-7")


def test_doi_comes_from_the_records_own_id_list_never_a_reference() -> None:
    article = new("33948004")
    assert article.doi == "10.1038/d41573-021-00073-z"
    # The reference list of this record carries another DOI.
    rec = record_xml("pubmed21n1298_cases.xml", "33948004")
    reference_dois = {x.text for x in rec.iterfind(
        "PubmedData/ReferenceList//ArticleId[@IdType='doi']")}
    assert reference_dois and article.doi not in reference_dois


def test_old_records_doi_placements() -> None:
    # 1977: the DOI sits in ArticleIdList and, doubled, in ELocationID (doi and pii)
    assert old("407700").doi == "10.1177/030098587701400406"
    # An empty <ArticleId IdType="doi"/> is no DOI; the PMC id is still found.
    assert (old("402351").doi, old("402351").pmcid) == (None, "PMC235062")


def test_elocation_doi_is_used_when_the_id_list_has_none() -> None:
    rec = record_xml("pubmed20n0014_cases.xml", "407700")
    for article_id in rec.iterfind("PubmedData/ArticleIdList/ArticleId[@IdType='doi']"):
        article_id.getparent().remove(article_id)
    assert parse_article(rec).doi == "10.1177/030098587701400406"


# --- people, indexing, links ----------------------------------------------------------------


def test_authors_with_suffix_and_initials() -> None:
    first = old("399321").authors[0]
    assert (first.last_name, first.fore_name, first.initials, first.suffix) == (
        "Kinkade", "J M", "JM", "Jr")
    assert first.name == "Kinkade JM Jr"


def test_collective_name_is_an_author_and_investigators_are_not() -> None:
    article = new("31719001")
    rec = record_xml("pubmed21n1298_cases.xml", "31719001")
    assert len(article.authors) == len(rec.findall("MedlineCitation/Article/AuthorList/Author"))
    assert rec.find("MedlineCitation/InvestigatorList") is not None
    collective = [a for a in article.authors if a.collective_name]
    assert [a.name for a in collective] == ["Collaborators"]


def test_orcid_is_normalised_to_the_bare_form() -> None:
    rec = record_xml("pubmed21n1298_cases.xml", "34093066")
    raw = [i.text for i in rec.iterfind(".//Author/Identifier[@Source='ORCID']")]
    assert any(r.startswith("http") for r in raw)
    orcids = [a.orcid for a in new("34093066").authors if a.orcid]
    assert orcids == ["0000-0001-5020-6590", "0000-0003-3915-6793"]


def test_affiliations() -> None:
    author = new("34093066").authors[0]
    assert author.affiliations == (
        "Center for Teacher Education, Karlsruhe Institute of Technology, Kaiserstraße 12, "
        "Geb. 20.52 (ZLB), 76131 Karlsruhe, Germany.",)


def test_mesh_headings_with_major_topic_and_qualifiers() -> None:
    headings = {h.descriptor: h for h in old("399297").mesh_headings}
    pineal = headings["Pineal Gland"]
    assert pineal.ui == "D010870" and not pineal.major_topic
    assert [(q.name, q.major_topic) for q in pineal.qualifiers] == [
        ("anatomy & histology", False), ("enzymology", False), ("metabolism", False),
        ("physiology", True)]
    assert old("399297").chemicals[0].registry_number == "JL5DK93RCL"


def test_keywords_from_every_keyword_list_and_pip_other_abstract() -> None:
    article = old("401078")
    rec = record_xml("pubmed20n0014_cases.xml", "401078")
    assert len(article.keywords) == len(rec.findall("MedlineCitation/KeywordList/Keyword"))
    assert len(rec.findall("MedlineCitation/KeywordList")) == 2
    other = article.other_abstracts[0]
    assert (other.type, other.language) == ("PIP", "eng")
    assert other.text.startswith("Results of the Alan Guttmacher Institute's 5th annual survey")


def test_retraction_is_flagged() -> None:
    article = old("400712")
    assert article.retracted
    retraction = [c for c in article.comments_corrections if c.ref_type == "RetractionIn"]
    assert retraction[0].pmid == "6106651"
    assert not new("29892698").retracted  # only an erratum
    assert new("29892698").comments_corrections[0].ref_type == "ErratumIn"


def test_book_article() -> None:
    (book,) = records("book_article.xml").values()
    assert book.record_type == "book"
    assert (book.pmid, book.title, book.year) == ("20301999", "Example Syndrome", 1993)
    assert book.doi == "10.9999/example.book.1"
    assert [a.name for a in book.authors] == ["Writer WA"]  # the editors are not authors
    assert book.abstract == ("Example syndrome is a made-up disorder. "
                             "The diagnosis is established by reading this file.")
    assert book.publication_types == ("Review",)
    # A chapter keeps the book it belongs to (flattened like any title) and its publisher.
    assert (book.book_title, book.publisher) == ("Test Reviews®", "University of Nowhere")
    assert book.publisher_location == "Springfield"
    assert [e.name for e in book.editors] == ["Editor E"]
    assert book.journal is None and book.container == "Test Reviews®"


def test_delete_citation_is_skipped_and_counted() -> None:
    stats = ParseStats()
    data = (FIXTURES / "pubmed21n1298_cases.xml").read_bytes()
    articles = list(iter_articles(io.BytesIO(data), "cases", stats))
    assert len(stats.deleted) == DELETED_IN_1298
    assert stats.records == len(articles) == 14
    assert not {a.pmid for a in articles} & set(stats.deleted)


def test_parse_records_returns_each_records_own_xml() -> None:
    data = (FIXTURES / "pubmed20n0014_cases.xml").read_bytes()
    pairs = parse_records(data)
    assert [a.pmid for a, _ in pairs] == list(records("pubmed20n0014_cases.xml"))
    rejoined = b"<PubmedArticleSet>" + b"".join(raw for _, raw in pairs) + b"</PubmedArticleSet>"
    assert parse_bytes(rejoined) == [a for a, _ in pairs]


def test_json_record_has_the_interface_keys() -> None:
    record = json.loads(json.dumps(new("34088739").to_dict()))
    assert record["pmid"] == "34088739" and record["year"] == 2021
    assert record["journal"] == "Journal for immunotherapy of cancer"
    assert len(record["authors"]) == 15


# --- hostile and broken input ---------------------------------------------------------------


def test_external_entity_to_a_local_file_is_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    xml = (
        f'<?xml version="1.0"?>\n<!DOCTYPE PubmedArticleSet [\n'
        f'<!ENTITY xxe SYSTEM "{secret.as_uri()}">\n]>\n'
        "<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID><Article>"
        "<ArticleTitle>Before &xxe; after</ArticleTitle><Abstract><AbstractText>x &xxe;"
        "</AbstractText></Abstract></Article></MedlineCitation></PubmedArticle>"
        "</PubmedArticleSet>"
    )
    with pytest.raises(UnreadableFile, match="declares entities") as caught:
        parse_bytes(xml.encode(), "xxe.xml")
    assert "TOP-SECRET" not in str(caught.value) and "xxe.xml" in str(caught.value)


@pytest.mark.parametrize(
    "name", ["external_entity.xml", "billion_laughs.xml", "quadratic_blowup.xml"]
)
def test_documents_declaring_entities_are_refused(name: str) -> None:
    with pytest.raises(UnreadableFile, match="declares entities") as caught:
        parse_bytes((FIXTURES / name).read_bytes(), name)
    assert name in str(caught.value) and "root:" not in str(caught.value)


def test_entity_with_broken_markup_is_refused_before_any_record() -> None:
    # Found by benchmarks/fuzz_parse.py: such an entity left lxml unable to free its nodes.
    xml = (
        b'<?xml version="1.0"?>\n<!DOCTYPE PubmedArticleSet [\n'
        b'<!ENTITY m "<i>markup"><!ENTITY e "<b>x</b>">\n]>\n'
        b"<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID><Article>"
        b"<ArticleTitle>A &m; &e; title</ArticleTitle></Article></MedlineCitation>"
        b"</PubmedArticle></PubmedArticleSet>"
    )
    stats = ParseStats()
    with pytest.raises(UnreadableFile, match="declares entities"):
        list(iter_articles(io.BytesIO(xml), "broken-entity.xml", stats))
    assert stats.records == 0


def test_deep_nesting_is_rejected_with_its_position() -> None:
    with pytest.raises(UnreadableFile, match=r"deep_nesting.xml: line 7, column \d+"):
        parse_bytes((FIXTURES / "deep_nesting.xml").read_bytes(), "deep_nesting.xml")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"   \n", "line"),
        (b"this is not XML", "line 1, column 1"),
        (b'{"pmid": "1"}', "line 1"),
        (b"<html><body>Error 503</body></html>", "not PubMed XML: the root element is <html>"),
    ],
)
def test_input_that_is_not_pubmed_xml(data: bytes, message: str) -> None:
    with pytest.raises(UnreadableFile, match="x.xml: .*" + message.replace("(", r"\(")):
        parse_bytes(data, "x.xml")


def test_broken_xml_keeps_the_records_before_the_break() -> None:
    data = (FIXTURES / "pubmed20n0014_cases.xml").read_bytes()
    cut = data.index(b"<PMID Version=\"1\">399319</PMID>")
    got: list[str] = []
    with pytest.raises(UnreadableFile) as info:
        for article in iter_articles(io.BytesIO(data[:cut]), "cut.xml"):
            got.append(article.pmid)
    assert got == ["399296", "399297", "399315"]
    assert "after PMID 399315" in str(info.value) and "line" in str(info.value)


def test_parse_article_rejects_other_elements() -> None:
    with pytest.raises(ValueError, match="not a PubMed record"):
        parse_article(etree.fromstring(b"<Foo/>"))


def test_fuzzed_entity_document_leaves_no_dangling_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    # benchmarks/fuzz_parse.py --seed 1, input 25231: a broken file declaring a 50,000-character
    # entity. Once lxml's iterparse had seen it, freeing the tree printed "Exception ignored ...
    # Tried to unregister unknown proxy"; it is now refused before lxml reads it.
    import gc
    import gzip
    import sys

    data = gzip.decompress((FIXTURES / "fuzz_entity_proxy.xml.gz").read_bytes())
    ignored: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", ignored.append)
    for parse in (parse_bytes, parse_records):
        with pytest.raises(UnreadableFile, match="declares entities"):
            parse(data, "fuzzed.xml")
        gc.collect()
    assert ignored == []


@pytest.mark.parametrize("nested_in_each", [False, True])
def test_many_records_in_a_wrapper_are_not_pubmed_xml_nor_an_unclosed_record(
    nested_in_each: bool,
) -> None:
    # Records below the top level are content; only those inside one record count towards
    # "its end tag is missing", and the count starts again in each record.
    src = (FIXTURES / "pubmed20n0014_cases.xml").read_bytes()
    head, rest = src.split(b"<PubmedArticleSet>", 1)
    body = rest.rsplit(b"</PubmedArticleSet>", 1)[0]
    if nested_in_each:
        first = body[body.index(b"<PubmedArticle>") : body.index(b"</PubmedArticle>") + 16]
        body = body.replace(b"</PubmedArticle>", first + b"</PubmedArticle>")
    wrapped = head + b"<Root><PubmedArticleSet>" + body * 110 + b"</PubmedArticleSet></Root>"
    with pytest.raises(UnreadableFile, match=r"not PubMed XML: the root element is <Root>"):
        parse_bytes(wrapped, "wrapped.xml")


def test_every_record_class_builds_exactly_as_its_dataclass_says() -> None:
    import dataclasses
    import inspect

    from cytoreview import model

    classes = [
        c for c in vars(model).values()
        if isinstance(c, type) and dataclasses.is_dataclass(c) and c.__module__ == model.__name__
    ]
    assert {c.__name__ for c in classes} >= {"Article", "Sentence", "MeshHeading", "Summary"}
    for cls in classes:
        fields = dataclasses.fields(cls)
        assert list(inspect.signature(cls).parameters) == [f.name for f in fields]
        values = [f"{f.name}-value" for f in fields]
        built = cls(*values)
        assert [getattr(built, f.name) for f in fields] == values
        assert cls(**{f.name: v for f, v in zip(fields, values, strict=True)}) == built
        missing = dataclasses.MISSING
        required = {
            f.name: "x" for f in fields if f.default is missing and f.default_factory is missing
        }
        bare = cls(**required)
        for f in fields:
            if f.name not in required:
                if f.default is not dataclasses.MISSING:
                    assert getattr(bare, f.name) == f.default, (cls, f.name)
                else:
                    assert getattr(bare, f.name) == f.default_factory(), (cls, f.name)  # type: ignore[misc]
        with pytest.raises(TypeError):
            cls(*values, "one too many")
        with pytest.raises(TypeError):
            cls(**required, unknown=1)
        if required:
            with pytest.raises(TypeError):
                cls()
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(built, fields[0].name, "changed")
        assert pickle.loads(pickle.dumps(built)) == built
    # Each Article gets its own Summary, as default_factory does.
    assert model.Article("1", "t").summary == model.Summary()


def test_records_pickled_by_the_slotted_classes_still_load() -> None:
    from cytoreview.model import MeshHeading, MeshQualifier, Sentence

    # pickle.dumps([...], protocol=4) at 32d34f5, when these classes had __slots__.
    old = (
        b"\x80\x04\x95\xb2\x00\x00\x00\x00\x00\x00\x00]\x94(\x8c\x10cytoreview.model\x94\x8c"
        b"\x08Sentence\x94\x93\x94)\x81\x94]\x94(K\x00K\t\x8c\x07purpose\x94G?\xf0\x00\x00\x00"
        b"\x00\x00\x00\x8c\x03nlm\x94\x8c\x04AIMS\x94ebh\x01\x8c\x0bMeshHeading\x94\x93\x94)"
        b"\x81\x94]\x94(\x8c\x06Humans\x94\x8c\x07D006801\x94\x89h\x01\x8c\rMeshQualifier\x94"
        b"\x93\x94)\x81\x94]\x94(\x8c\x07therapy\x94\x8c\x07Q000628\x94\x88eb\x85\x94ebe."
    )
    assert pickle.loads(old) == [
        Sentence(0, 9, "purpose", 1.0, "nlm", "AIMS"),
        MeshHeading("Humans", "D006801", False, (MeshQualifier("therapy", "Q000628", True),)),
    ]
