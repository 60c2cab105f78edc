"""Identifiers: what a user pastes (PMIDs, DOIs, PMCIDs, URLs) into validated, canonical IDs.

Everything is checked here, before any request, so a typo costs no call to NCBI::

    >>> parse_identifier("PMID: 15461571")
    Identifier(kind='pmid', value='15461571', raw='PMID: 15461571')
    >>> parse_identifier("https://doi.org/10.1097/01.CCO.0000142070.45097.68.").value
    '10.1097/01.cco.0000142070.45097.68'
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal
from urllib.parse import unquote, urlsplit

from .errors import InvalidIdentifier, InvalidInput

Kind = Literal["pmid", "doi", "pmcid"]

# PMIDs are positive integers; 9 digits leaves room beyond today's ~40 million. Leading zeros
# come from fixed-width exports and spreadsheets ("00012345") and are dropped.
_PMID = re.compile(r"0*([1-9][0-9]{0,8})")
_PMCID = re.compile(r"PMC[1-9][0-9]{0,9}", re.IGNORECASE)
# Crossref's advice for matching modern DOIs: 10.NNNN(.NNNN)/suffix of printable characters.
_DOI = re.compile(r"10\.[0-9]{4,9}(?:\.[0-9]+)*/\S+")
_PREFIX = re.compile(
    r"^(pmid|pubmed\s*central(?:\s*id)?|pubmed(?:\s*id)?|pmc\s*id|pmcid|pmc|doi)\s*[:=]?\s*",
    re.IGNORECASE)
_PREFIX_KIND = {"pubmed": "pmid", "pubmedid": "pmid", "pmcid": "pmc", "pubmedcentral": "pmc",
                "pubmedcentralid": "pmc"}
_TRAILING = ".,;:'\"!?>"
_PAIRS = {")": "(", "]": "[", "}": "{"}
_PUBMED_HOSTS = {"pubmed.ncbi.nlm.nih.gov", "www.ncbi.nlm.nih.gov", "ncbi.nlm.nih.gov"}
_NCBI_HOSTS = {"www.ncbi.nlm.nih.gov", "ncbi.nlm.nih.gov"}
_EUROPEPMC_HOSTS = {"europepmc.org", "www.europepmc.org"}
_PMC_HOSTS = {"pmc.ncbi.nlm.nih.gov", "www.ncbi.nlm.nih.gov", "ncbi.nlm.nih.gov",
              *_EUROPEPMC_HOSTS}
_URL_START = re.compile(r"^(https?://|www\.|(dx\.)?doi\.org/|pubmed\.ncbi|europepmc\.org/)",
                        re.IGNORECASE)
_DOI_HOSTS = {"doi.org", "dx.doi.org", "www.doi.org"}


@dataclass(frozen=True, slots=True)
class Identifier:
    """A validated identifier. ``value`` is canonical (DOIs lower-cased, PMCIDs upper-cased);
    ``raw`` is what the user typed, for messages."""

    kind: Kind
    value: str
    raw: str

    def __str__(self) -> str:
        return self.raw


def _strip_trailing(doi: str) -> str:
    """Drop sentence punctuation pasted after a DOI, keeping balanced brackets that belong to it
    (``10.1016/S0140-6736(20)30183-5``)."""
    # Counted once and kept up to date: recounting per character was quadratic on a line
    # ending in 100,000 ")".
    counts = {c: doi.count(c) for c in "()[]{}"}
    end = len(doi)
    while end:
        last = doi[end - 1]
        unbalanced = last in _PAIRS and counts[_PAIRS[last]] < counts[last]
        if last in _TRAILING or unbalanced:
            end -= 1
            if last in counts:
                counts[last] -= 1
        else:
            break
    return doi[:end]


def _from_url(text: str) -> str | None:
    """The identifier part of a PubMed, PMC or doi.org URL, or None if ``text`` is no URL."""
    if not _URL_START.match(text):
        return None
    url = urlsplit(text if "://" in text else "https://" + text)
    host = (url.hostname or "").lower()
    path = unquote(url.path)
    if host in _DOI_HOSTS:
        # SICI DOIs end in '#' ("...3.0.CO;2-#"), which urlsplit takes for an empty anchor;
        # a real anchor ("#section1") is the landing page's and not part of the DOI.
        sici = text.endswith("#")
        return "doi:" + path.lstrip("/") + ("#" if sici else "")
    segments = [s for s in path.split("/") if s]
    if host in _EUROPEPMC_HOSTS:
        # europepmc.org/article/MED/123 and /abstract/MED/123 name a PubMed record.
        for source, seg in pairwise(segments):
            if source.upper() == "MED" and _PMID.fullmatch(seg):
                return "pmid:" + seg
    # www.ncbi.nlm.nih.gov also serves /gene/7157 and /taxonomy/9606: only its /pmc/ and
    # /pubmed/ paths name records.
    shared = host in _NCBI_HOSTS
    if host in _PMC_HOSTS and (not shared or segments[:1] == ["pmc"]):
        for seg in segments:
            if _PMCID.fullmatch(seg):
                return seg
    if host in _PUBMED_HOSTS and (not shared or segments[:1] == ["pubmed"]):
        for seg in segments:
            if _PMID.fullmatch(seg):
                return "pmid:" + seg
    return ""  # a URL, but not one that names a record


#: Invisible characters that copying and joining files leave in IDs: a byte order mark
#: where two Windows files were concatenated, zero-width spaces and joiners from web pages.
_INVISIBLE = dict.fromkeys(map(ord, "\ufeff\u200b\u200c\u200d\u2060"))


def parse_identifier(text: str) -> Identifier:
    """Parse one identifier, or raise :class:`InvalidIdentifier` naming it."""
    raw = text
    # Pasted from prose: "(doi:10.1/x)," or "<https://doi.org/...>".
    text = text.translate(_INVISIBLE).strip().strip("<>\"'").lstrip("([{").strip()
    if not text:
        raise InvalidIdentifier(raw, "empty identifier")
    from_url = _from_url(text)
    if from_url == "":
        raise InvalidIdentifier(raw, "not a PubMed, PMC or doi.org URL with an identifier")
    if from_url is not None:
        text = from_url

    explicit: str | None = None
    match = _PREFIX.match(text)
    if match:
        word = re.sub(r"\s+", "", match.group(1).lower())
        explicit = _PREFIX_KIND.get(word, word)
        text = text[match.end():].strip().lstrip("([{")
    candidate = _strip_trailing(text)

    pmid = _PMID.fullmatch(candidate)
    if explicit in (None, "pmid") and pmid:
        return Identifier("pmid", pmid.group(1), raw)
    if explicit in (None, "pmc", "pmid"):  # "PubMed: PMC123" is unambiguous too
        if _PMCID.fullmatch(candidate):
            return Identifier("pmcid", candidate.upper(), raw)
        if explicit and pmid:
            return Identifier("pmcid", "PMC" + pmid.group(1), raw)
    if explicit in (None, "doi") and _DOI.fullmatch(candidate):
        return Identifier("doi", candidate.lower(), raw)
    if explicit == "pmid" or candidate.isdigit():
        raise InvalidIdentifier(raw, "not a valid PMID (a positive whole number)")
    if explicit == "doi" or candidate.startswith("10."):
        raise InvalidIdentifier(raw, "not a valid DOI (expected 10.NNNN/suffix)")
    raise InvalidIdentifier(raw)


def parse_identifiers(texts: Iterable[str]) -> list[Identifier]:
    """Parse and de-duplicate, keeping input order; the first invalid one raises."""
    return unique(parse_identifier(t) for t in texts)


def unique(identifiers: Iterable[Identifier]) -> list[Identifier]:
    seen: set[tuple[str, str]] = set()
    out: list[Identifier] = []
    for ident in identifiers:
        key = (ident.kind, ident.value)
        if key not in seen:
            seen.add(key)
            out.append(ident)
    return out


@dataclass(frozen=True, slots=True)
class IdList:
    """An ID list file read leniently: the valid IDs and the lines that were not."""

    identifiers: list[Identifier]
    invalid: list[tuple[int, InvalidIdentifier]]


def _decode_list(data: bytes, source: str) -> str:
    """The text of an ID list as Windows tools save them too: UTF-16 with a byte order mark
    (Excel's "Unicode Text", PowerShell's ``>``), or a legacy code page where a comment has
    "Jørgensen" (IDs themselves are ASCII, so cp1252 cannot misread one)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"{source}: not an ID list (invalid UTF-16)") from exc
    if b"\x00" in data:
        raise InvalidInput(f"{source}: not an ID list (binary data)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def read_id_list(data: bytes, source: str) -> IdList:
    """Read an ID list: one ID per line, ``#`` comments and blank lines ignored.

    Invalid lines are returned (to be named and skipped); a file that is not text at all, or has
    no valid ID among non-empty lines, is malformed and raises :class:`InvalidInput`.
    """
    text = _decode_list(data, source)
    found: list[Identifier] = []
    invalid: list[tuple[int, InvalidIdentifier]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        # '#' starts a comment at line start or after whitespace; DOIs may contain '#'.
        content = re.split(r"(?:^|\s)#", line, maxsplit=1)[0].strip()
        if not content:
            continue
        try:
            found.append(parse_identifier(content))
        except InvalidIdentifier as exc:
            invalid.append((lineno, exc))
    if invalid and not found:
        lineno, first = invalid[0]
        raise InvalidInput(f"{source}: no valid identifier (line {lineno}: {first})")
    return IdList(unique(found), invalid)


def chunks(items: Sequence[str], size: int) -> list[Sequence[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
