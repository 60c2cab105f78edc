"""Does cytoreview read every record the way a plain lxml reading does?

    python benchmarks/agreement.py                 # the two shared files
    python benchmarks/agreement.py FILE [FILE ...]
    python benchmarks/agreement.py --smoke         # the test fixtures, in seconds (CI)

For each record the independent reading below (ElementPath queries and ``itertext``, written
without looking at parse.py's helpers) and cytoreview must give the same title and abstract
after whitespace normalisation, the same DOI, year and journal, and the same numbers of authors,
MeSH headings and publication types. Prints the agreement rate per file and the disagreeing
PMIDs with the fields that differ.
"""

from __future__ import annotations

import argparse
import gzip
import re
import sys
from collections import Counter, defaultdict, deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lxml import etree

from cytoreview.localfiles import iter_file

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"  # ../shared beside the checkout
DEFAULT = [SHARED / "pubmed20n0014.xml.gz", SHARED / "pubmed21n1298.train.xml.gz"]
SMOKE = [ROOT / "tests" / "fixtures" / "xml" / "pubmed20n0014_cases.xml",
         ROOT / "tests" / "fixtures" / "xml" / "pubmed21n1298_cases.xml"]
FIELDS = ("title", "abstract", "doi", "year", "journal", "authors", "mesh", "types")


def norm(text: str | None) -> str:
    return " ".join((text or "").split())


def flat(elem: Any) -> str:
    return norm("".join(elem.itertext())) if elem is not None else ""


def independent(rec: Any) -> tuple[str, dict[str, Any]]:
    """One record read with nothing but lxml: the reference the parser is held to."""
    art = rec.find("MedlineCitation/Article")
    pmid = norm(rec.findtext("MedlineCitation/PMID"))
    title = flat(art.find("ArticleTitle"))  # INTERFACE.md: the ArticleTitle text, "" if empty
    texts = [flat(a) for a in art.findall("Abstract/AbstractText")]
    dois = [norm(x.text) for x in rec.findall("PubmedData/ArticleIdList/ArticleId")
            if x.get("IdType") == "doi" and norm(x.text)]
    dois += [norm(x.text) for x in art.findall("ELocationID")
             if x.get("EIdType") == "doi" and norm(x.text)]
    pub_date = art.find("Journal/JournalIssue/PubDate")
    year_text = pub_date.findtext("Year") if pub_date is not None else None
    if not year_text and pub_date is not None:
        found = re.search(r"\d{4}", pub_date.findtext("MedlineDate") or "")
        year_text = found.group() if found else None
    return pmid, {
        "title": title,
        "abstract": " ".join(t for t in texts if t),
        "doi": dois[0] if dois else None,
        "year": int(year_text) if year_text else None,
        "journal": norm(art.findtext("Journal/Title")) or None,
        "authors": len(art.findall("AuthorList/Author")),
        "mesh": len(rec.findall("MedlineCitation/MeshHeadingList/MeshHeading")),
        "types": len(art.findall("PublicationTypeList/PublicationType")),
    }


def reference(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    with open(path, "rb") as probe:
        compressed = probe.read(2) == b"\x1f\x8b"
    with (gzip.open(path, "rb") if compressed else open(path, "rb")) as fh:
        for _, rec in etree.iterparse(fh, tag="PubmedArticle", resolve_entities=False,
                                      no_network=True, load_dtd=False):
            yield independent(rec)
            rec.clear()
            while rec.getprevious() is not None:
                del rec.getparent()[0]


def compare(path: Path, show: int) -> tuple[int, int]:
    # Update files may hold a PMID more than once (versions); compare in file order.
    expected: dict[str, deque[dict[str, Any]]] = defaultdict(deque)
    for pmid, reading in reference(path):
        expected[pmid].append(reading)
    total = agree = 0
    wrong: list[tuple[str, list[str]]] = []
    by_field: Counter[str] = Counter()
    for article in iter_file(str(path)):
        queue = expected.get(article.pmid)
        if not queue:
            continue  # a book record: the reference above reads journal articles only
        want = queue.popleft()
        got = {
            "title": norm(article.title),
            "abstract": norm(article.abstract),
            "doi": article.doi,
            "year": article.year,
            "journal": article.journal,
            "authors": len(article.authors),
            "mesh": len(article.mesh_headings),
            "types": len(article.publication_types),
        }
        total += 1
        diff = [f for f in FIELDS if got[f] != want[f]]
        if diff:
            wrong.append((article.pmid, diff))
            by_field.update(diff)
        else:
            agree += 1
    missing = sum(len(q) for q in expected.values())
    total += missing
    rate = agree / total if total else 1.0
    print(f"{path.name}: {agree}/{total} records agree ({rate:.4%}); "
          f"missing from cytoreview: {missing}")
    if by_field:
        print("  fields that differ: " + ", ".join(f"{f} {n}" for f, n in by_field.items()))
    for pmid, diff in wrong[:show]:
        print(f"  PMID {pmid}: {', '.join(diff)}")
    if len(wrong) > show:
        print(f"  ... and {len(wrong) - show} more")
    return agree, total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--smoke", action="store_true", help="the small test fixtures only")
    ap.add_argument("--show", type=int, default=50, help="disagreeing PMIDs to list per file")
    ap.add_argument("--min-rate", type=float, default=None,
                    help="exit 1 when a file agrees less than this (default 0.999; with "
                    "--smoke 0: the fixtures are chosen for their hard cases)")
    args = ap.parse_args(argv)
    files = args.files or (SMOKE if args.smoke else DEFAULT)
    min_rate = args.min_rate if args.min_rate is not None else (0.0 if args.smoke else 0.999)
    worst = 1.0
    for path in files:
        agree, total = compare(path, args.show)
        worst = min(worst, agree / total if total else 1.0)
    print(f"lowest agreement: {worst:.4%} (required {min_rate:.1%})")
    return 0 if worst >= min_rate else 1


if __name__ == "__main__":
    sys.exit(main())
