"""Identifier parsing: what users paste must become the right canonical ID, or a clear error."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cytoreview.errors import InvalidIdentifier, InvalidInput
from cytoreview.ids import parse_identifier, parse_identifiers, read_id_list


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("15461571", "pmid", "15461571"),
        ("PMID: 15461571", "pmid", "15461571"),
        ("pmid15461571", "pmid", "15461571"),
        ("PMID:2215513", "pmid", "2215513"),
        ("  2215513\t", "pmid", "2215513"),
        ("https://pubmed.ncbi.nlm.nih.gov/15627015/", "pmid", "15627015"),
        ("pubmed.ncbi.nlm.nih.gov/15627015", "pmid", "15627015"),
        ("https://www.ncbi.nlm.nih.gov/pubmed/15627015", "pmid", "15627015"),
        ("10.1097/01.cco.0000142070.45097.68", "doi", "10.1097/01.cco.0000142070.45097.68"),
        ("doi:10.1517/14712598.4.10.1595.", "doi", "10.1517/14712598.4.10.1595"),
        ("DOI: 10.1097/01.CCO.0000142070.45097.68", "doi", "10.1097/01.cco.0000142070.45097.68"),
        ("https://doi.org/10.2174/156800909790192392", "doi", "10.2174/156800909790192392"),
        ("http://dx.doi.org/10.1000%2Fabc", "doi", "10.1000/abc"),
        ("(10.1016/S0140-6736(20)30183-5),", "doi", "10.1016/s0140-6736(20)30183-5"),
        ("PMC3531190", "pmcid", "PMC3531190"),
        ("pmcid: pmc3531190", "pmcid", "PMC3531190"),
        ("https://pmc.ncbi.nlm.nih.gov/articles/PMC3531190/", "pmcid", "PMC3531190"),
        ("https://www.ncbi.nlm.nih.gov/pmc/articles/PMC3531190/", "pmcid", "PMC3531190"),
        # Spreadsheets and fixed-width exports pad PMIDs with zeros.
        ("0015461571", "pmid", "15461571"),
        ("https://pubmed.ncbi.nlm.nih.gov/0015627015/", "pmid", "15627015"),
        # How journals and PubMed Central pages print them.
        ("PubMed ID: 15461571", "pmid", "15461571"),
        ("PubMed 15461571", "pmid", "15461571"),
        ("PMC ID: PMC3531190", "pmcid", "PMC3531190"),
        ("https://europepmc.org/article/MED/15627015", "pmid", "15627015"),
        ("europepmc.org/abstract/MED/15627015", "pmid", "15627015"),
        ("https://europepmc.org/article/PMC/PMC3531190", "pmcid", "PMC3531190"),
        # '#' is legal in DOIs; in a doi.org URL it is not an anchor.
        ("https://doi.org/10.1002/(SICI)1097-0142(19960101)77:1<1::AID-CNCR1>3.0.CO;2-#",
         "doi", "10.1002/(sici)1097-0142(19960101)77:1<1::aid-cncr1>3.0.co;2-#"),
        ("https://doi.org/10.1000/a%23b", "doi", "10.1000/a#b"),
        # An anchor of the landing page is not part of the DOI.
        ("https://doi.org/10.1000/xyz#section1", "doi", "10.1000/xyz"),
        ("PubMed Central: PMC3531190", "pmcid", "PMC3531190"),
        ("PubMed: PMC3531190", "pmcid", "PMC3531190"),
    ],
)
def test_accepts_what_users_paste(text: str, kind: str, value: str) -> None:
    ident = parse_identifier(text)
    assert (ident.kind, ident.value, ident.raw) == (kind, value, text)


@pytest.mark.parametrize(
    "text", ["abc", "", "0", "PMID: 12a", "10.12/x", "doi:", "https://example.org/123",
             "https://pubmed.ncbi.nlm.nih.gov/", "1234567890123", "PMID: 000",
             "https://europepmc.org/article/MED/",
             # NCBI pages that are not records: a gene and a species, not PMIDs 7157 and 9606.
             "https://www.ncbi.nlm.nih.gov/gene/7157",
             "https://www.ncbi.nlm.nih.gov/taxonomy/9606"])
def test_rejects_with_a_message_naming_the_input(text: str) -> None:
    with pytest.raises(InvalidIdentifier) as info:
        parse_identifier(text)
    assert repr(text) in str(info.value)


def test_deduplicates_keeping_input_order() -> None:
    ids = parse_identifiers(["2215513", "PMID: 15461571", "2215513",
                             "10.1097/01.CCO.0000142070.45097.68",
                             "doi:10.1097/01.cco.0000142070.45097.68"])
    assert [(i.kind, i.value) for i in ids] == [
        ("pmid", "2215513"), ("pmid", "15461571"),
        ("doi", "10.1097/01.cco.0000142070.45097.68")]


def test_id_list_skips_comments_blanks_and_names_bad_lines() -> None:
    data = b"# seeds\n15461571  # Wysocki\n\n   \nnot-an-id\n10.1097/01.cco.0000142070.45097.68\n"
    listing = read_id_list(data, "ids.txt")
    assert [i.value for i in listing.identifiers] == [
        "15461571", "10.1097/01.cco.0000142070.45097.68"]
    assert [(line, err.text) for line, err in listing.invalid] == [(5, "not-an-id")]


@pytest.mark.parametrize("data", [b"\x00\x01\x02binary", b"\xfa\xfb not utf-8",
                                  b"\xff\xfe\xfa odd-length UTF-16", b"junk\nmore junk\n"])
def test_malformed_id_list_is_a_usage_error(data: bytes) -> None:
    with pytest.raises(InvalidInput) as info:
        read_id_list(data, "list.txt")
    assert str(info.value).startswith("list.txt: ")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "cp1252", "utf-8-sig"])
def test_id_lists_saved_by_windows_tools_are_read(encoding: str) -> None:
    text = "# Jørgensen et al., for the IL-2 review\r\n15461571\r\nPMC3531190\r\n"
    data = text.encode(encoding)
    if encoding in ("utf-16-le", "utf-16-be"):  # Excel's "Unicode Text" writes the BOM
        data = ("\ufeff" + text).encode(encoding)
    listing = read_id_list(data, "list.txt")
    assert [i.value for i in listing.identifiers] == ["15461571", "PMC3531190"]
    assert listing.invalid == []


@given(st.integers(min_value=1, max_value=999_999_999))
def test_any_pmid_round_trips_in_every_spelling(n: int) -> None:
    for text in (str(n), f"PMID: {n}", f"pmid{n}", f"https://pubmed.ncbi.nlm.nih.gov/{n}/"):
        assert parse_identifier(text).value == str(n)


@given(st.text(max_size=40))
def test_arbitrary_text_never_crashes(text: str) -> None:
    try:
        ident = parse_identifier(text)
    except InvalidIdentifier as exc:
        assert exc.text == text
    else:
        assert ident.kind in ("pmid", "doi", "pmcid")
        assert ident.value


@given(st.from_regex(r"10\.[0-9]{4,6}/[A-Za-z0-9.()_-]{1,20}[A-Za-z0-9]", fullmatch=True),
       st.sampled_from(["", ".", ",", ";", ")."]))
def test_doi_survives_prefixes_and_trailing_punctuation(doi: str, tail: str) -> None:
    if doi.count("(") != doi.count(")"):
        return  # "10.1/(0" + ")." is ambiguous by nature: is the ")" the DOI's or the prose's?
    for text in (doi + tail, f"doi:{doi}{tail}", f"https://doi.org/{doi}"):
        assert parse_identifier(text).value == doi.lower()


def test_invisible_characters_from_joined_files_and_web_pages_are_ignored() -> None:
    # `cat a.txt b.txt` of two Windows files leaves b's byte order mark mid-file.
    data = "15461571\r\n\ufeff2215513\r\n\u200b15627015\u200b\r\n".encode()
    listing = read_id_list(data, "ids.txt")
    assert [i.value for i in listing.identifiers] == ["15461571", "2215513", "15627015"]
    assert listing.invalid == []
