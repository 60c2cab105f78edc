"""What each E-utilities endpoint answers, without HTTP: esearch, efetch, epost (with the
history server) and the PMC ID Converter, over a :class:`~.records.RecordStore`.

The answers copy NCBI's shapes: esearch JSON ``{"header": ..., "esearchresult": {...}}`` or XML
``<eSearchResult>`` with ``ErrorList/PhraseNotFound``; efetch a ``PubmedArticleSet`` with the known
records in the order asked (unknown PMIDs silently absent); errors inside a 200 as NCBI's backends
report them (``<eFetchResult><ERROR>``, ``{"esearchresult": {"ERROR": ...}}``).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from .query import QueryError, run_query
from .records import RecordStore

__all__ = ["Endpoints", "Response", "error200", "json_bytes", "split_ids"]

PUBMED_DOCTYPE = (
    '<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN" '
    '"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">'
)
ESEARCH_DOCTYPE = (
    '<!DOCTYPE eSearchResult PUBLIC "-//NLM//DTD esearch 20060628//EN" '
    '"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20060628/esearch.dtd">'
)
EFETCH_ERROR_DOCTYPE = (
    '<!DOCTYPE eFetchResult PUBLIC "-//NLM//DTD efetch 20131226//EN" '
    '"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20131226/efetch.dtd">'
)
XML_DECL = '<?xml version="1.0" encoding="UTF-8" ?>\n'
ESEARCH_MAX_RETMAX = 10_000
PUBMED_ESEARCH_LIMIT = 9_999  # PubMed's esearch returns only the first 9,999 IDs of a result


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "text/xml; charset=UTF-8"
    headers: dict[str, str] = field(default_factory=dict)


def split_ids(value: str) -> list[str]:
    """IDs from an ``id``/``ids`` parameter: separated by commas, spaces or newlines."""
    return [x.strip() for x in value.replace("\n", ",").replace(" ", ",").split(",") if x.strip()]


class Endpoints:
    """The E-utilities answers over one store; holds the history server (WebEnv -> result
    sets). Thread-safe."""

    def __init__(self, store: RecordStore) -> None:
        self.store = store
        #: Seconds a WebEnv lives after its last use (None: for ever). NCBI keeps history
        #: sets for some hours; 0 makes every set expire at once, to test the fallback.
        self.history_ttl: float | None = None
        self._lock = threading.Lock()
        self._history: dict[str, list[list[str]]] = {}
        self._history_used: dict[str, float] = {}

    def esearch(self, params: dict[str, str]) -> Response:
        as_json = params.get("retmode", "xml").lower() == "json"
        db = params.get("db", "pubmed") or "pubmed"
        if db != "pubmed":
            return esearch_error(as_json, f"Invalid db name specified: {db}", status=400)
        try:
            retmax = int(params.get("retmax", "20") or 20)
            retstart = int(params.get("retstart", "0") or 0)
        except ValueError:
            return esearch_error(as_json, "retmax and retstart must be integers", status=400)
        retmax = max(0, min(retmax, ESEARCH_MAX_RETMAX))
        retstart = max(0, retstart)
        try:
            result = run_query(self.store, params.get("term", ""))
        except QueryError as exc:
            return esearch_error(as_json, str(exc))
        if retstart > PUBMED_ESEARCH_LIMIT - 1:
            return esearch_error(
                as_json,
                "Search Backend failed: Exception:\n'retstart' cannot be larger than 9998. For "
                "PubMed, ESearch can only retrieve the first 9,999 records matching the query. "
                "To obtain more than 9,999 PubMed records, consider using EDirect",
            )
        ordered = sorted(result.pmids, key=int, reverse=True)
        page = ordered[retstart : min(retstart + retmax, PUBMED_ESEARCH_LIMIT)]
        if params.get("rettype") == "count":
            page, retmax = [], 0
        out: dict[str, Any] = {
            "count": str(len(ordered)),
            "retmax": str(len(page)),
            "retstart": str(retstart),
        }
        if params.get("usehistory", "").lower() == "y":
            webenv, query_key = self.remember(params.get("WebEnv"), ordered)
            out["querykey"] = str(query_key)
            out["webenv"] = webenv
        out["idlist"] = page
        out["translationset"] = []
        out["querytranslation"] = result.translation
        if result.phrases_not_found or result.fields_not_found:
            out["errorlist"] = {
                "phrasesnotfound": result.phrases_not_found,
                "fieldsnotfound": result.fields_not_found,
            }
        messages = [] if ordered else ["No items found."]
        if result.phrases_ignored or messages:
            out["warninglist"] = {
                "phrasesignored": result.phrases_ignored,
                "quotedphrasesnotfound": [],
                "outputmessages": messages,
            }
        if as_json:
            doc = {"header": {"type": "esearch", "version": "0.3"}, "esearchresult": out}
            return Response(200, json_bytes(doc), "application/json; charset=UTF-8")
        parts = [XML_DECL, ESEARCH_DOCTYPE, "\n<eSearchResult>"]
        parts.append(f"<Count>{out['count']}</Count><RetMax>{out['retmax']}</RetMax>")
        parts.append(f"<RetStart>{out['retstart']}</RetStart>")
        if "webenv" in out:
            parts.append(f"<QueryKey>{out['querykey']}</QueryKey>")
            parts.append(f"<WebEnv>{escape(out['webenv'])}</WebEnv>")
        parts.append("<IdList>\n" + "".join(f"<Id>{p}</Id>\n" for p in page) + "</IdList>")
        parts.append("<TranslationSet/>")
        parts.append(f"<QueryTranslation>{escape(result.translation)}</QueryTranslation>")
        if "errorlist" in out:
            parts.append("<ErrorList>")
            parts.extend(f"<PhraseNotFound>{escape(p)}</PhraseNotFound>"
                         for p in result.phrases_not_found)  # fmt: skip
            parts.extend(f"<FieldNotFound>{escape(p)}</FieldNotFound>"
                         for p in result.fields_not_found)  # fmt: skip
            parts.append("</ErrorList>")
        if "warninglist" in out:
            parts.append("<WarningList>")
            parts.extend(f"<PhraseIgnored>{escape(p)}</PhraseIgnored>"
                         for p in result.phrases_ignored)  # fmt: skip
            parts.extend(f"<OutputMessage>{escape(m)}</OutputMessage>" for m in messages)
            parts.append("</WarningList>")
        parts.append("</eSearchResult>\n")
        return Response(200, "".join(parts).encode())

    def remember(self, webenv: str | None, pmids: list[str]) -> tuple[str, int]:
        with self._lock:
            self._expire()
            if not webenv or webenv not in self._history:
                webenv = "MCID_" + secrets.token_hex(12)
                self._history[webenv] = []
            self._history[webenv].append(list(pmids))
            self._history_used[webenv] = time.monotonic()
            return webenv, len(self._history[webenv])

    def recall(self, params: dict[str, str]) -> list[str] | None:
        webenv = params.get("WebEnv") or params.get("webenv") or ""
        try:
            key = int(params.get("query_key", "") or 0)
        except ValueError:
            return None
        with self._lock:
            self._expire()
            sets = self._history.get(webenv)
            if not sets or not 1 <= key <= len(sets):
                return None
            self._history_used[webenv] = time.monotonic()
            return sets[key - 1]

    def forget_history(self) -> None:
        """Drop every history set, as NCBI does when they expire."""
        with self._lock:
            self._history.clear()
            self._history_used.clear()

    def _expire(self) -> None:
        if self.history_ttl is None:
            return
        now = time.monotonic()
        for webenv, used in list(self._history_used.items()):
            if now - used >= self.history_ttl:
                del self._history[webenv], self._history_used[webenv]

    def efetch(self, params: dict[str, str]) -> tuple[Response, list[str]]:
        db = params.get("db", "pubmed") or "pubmed"
        if db != "pubmed":
            return efetch_error(f"Invalid db name specified: {db}", 400), []
        retmode = params.get("retmode", "xml").lower() or "xml"
        if retmode != "xml":
            return efetch_error(f"retmode={retmode} is not served by the stand-in", 400), []
        if params.get("id", "").strip():
            ids = [x.strip() for x in split_ids(params["id"])]
            bad = [x for x in ids if not x.isdigit()]
            if bad:
                return efetch_error(f"Invalid uid {bad[0]} at position {ids.index(bad[0])}",
                                     400), ids  # fmt: skip
        elif params.get("query_key") or params.get("WebEnv"):
            remembered = self.recall(params)
            if remembered is None:
                return efetch_error(f"Unable to obtain query #{params.get('query_key', '')}",
                                     200), []  # fmt: skip
            try:
                retstart = max(0, int(params.get("retstart", "0") or 0))
                retmax = max(0, int(params.get("retmax", "20") or 20))
            except ValueError:
                return efetch_error("retmax and retstart must be integers", 400), []
            ids = remembered[retstart : retstart + min(retmax, ESEARCH_MAX_RETMAX)]
        else:
            return efetch_error("Empty id list - nothing todo", 400), []
        seen: set[str] = set()
        records: list[bytes] = []
        for pmid in ids:
            if pmid in seen:
                continue
            seen.add(pmid)
            raw = self.store.get(pmid)
            if raw is not None:
                records.append(raw)
        body = b"".join(
            [
                b'<?xml version="1.0" ?>\n',
                PUBMED_DOCTYPE.encode(),
                b"\n<PubmedArticleSet>\n",
                b"\n".join(records),
                b"\n</PubmedArticleSet>\n" if records else b"</PubmedArticleSet>\n",
            ]
        )
        return Response(200, body), ids

    def epost(self, params: dict[str, str]) -> tuple[Response, list[str]]:
        ids = [x.strip() for x in split_ids(params.get("id", ""))]
        if not ids:
            return efetch_error("Empty id list - nothing todo", 400), []
        known = [p for p in dict.fromkeys(ids) if p in self.store]
        webenv, key = self.remember(params.get("WebEnv"), known)
        body = (
            f"{XML_DECL}<ePostResult>\n\t<QueryKey>{key}</QueryKey>\n"
            f"\t<WebEnv>{escape(webenv)}</WebEnv>\n</ePostResult>\n"
        )
        return Response(200, body.encode()), ids

    def idconv(self, params: dict[str, str]) -> tuple[Response, list[str]]:
        ids = [x.strip() for x in split_ids(params.get("ids", ""))]
        fmt = params.get("format", "xml").lower()
        records: list[dict[str, str]] = []
        for raw_id in ids:
            pmid, kind = self._idconv_lookup(raw_id, params.get("idtype", "").lower())
            pmcid = self.store.pmid_to_pmcid.get(pmid) if pmid else None
            if pmid and pmcid:
                rec = {"pmcid": pmcid, "pmid": pmid}
                doi = self.store.doi_for_pmid(pmid)
                if doi:
                    rec["doi"] = doi
                if kind != "pmcid":
                    rec = {"requested-id": raw_id, **rec}
                records.append(rec)
            else:
                records.append(
                    {kind: raw_id, "status": "error", "errmsg": "invalid article id"}
                    if kind in ("pmcid", "pmid", "doi")
                    else {"requested-id": raw_id, "status": "error", "errmsg": "invalid article id"}
                )
        if not ids:
            body_err = {"status": "error", "message": "No IDs were supplied"}
            if fmt == "json":
                return Response(400, json_bytes(body_err), "application/json"), []
            return Response(400, b'<pmcids status="error"><error>No IDs were supplied</error>'
                             b"</pmcids>\n"), []  # fmt: skip
        if fmt == "json":
            doc = {
                "status": "ok",
                "responseDate": time.strftime("%Y-%m-%d %H:%M:%S"),
                "request": f"ids={','.join(ids)};format=json",
                "records": records,
            }
            return Response(200, json_bytes(doc), "application/json; charset=UTF-8"), ids
        xml = [XML_DECL, '<pmcids status="ok">\n']
        for rec in records:
            attrs = " ".join(f"{k}={quoteattr(v)}" for k, v in rec.items() if k != "errmsg")
            if "errmsg" in rec:
                xml.append(f"<record {attrs}><errmsg>{escape(rec['errmsg'])}</errmsg></record>\n")
            else:
                xml.append(f"<record {attrs}/>\n")
        xml.append("</pmcids>\n")
        return Response(200, "".join(xml).encode()), ids

    def _idconv_lookup(self, raw_id: str, idtype: str) -> tuple[str | None, str]:
        up = raw_id.upper()
        if idtype == "pmcid" or (not idtype and up.startswith("PMC")):
            return self.store.pmid_for_pmcid(up), "pmcid"
        if idtype == "doi" or (not idtype and raw_id.startswith("10.")):
            return self.store.pmid_for_doi(raw_id), "doi"
        if idtype == "pmid" or (not idtype and raw_id.isdigit()):
            return (raw_id if raw_id in self.store else None), "pmid"
        return None, "unknown"


def json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=1) + "\n").encode()


def esearch_error(as_json: bool, message: str, status: int = 200) -> Response:
    if as_json:
        doc = {"header": {"type": "esearch", "version": "0.3"}, "esearchresult": {"ERROR": message}}
        return Response(status, json_bytes(doc), "application/json; charset=UTF-8")
    body = (
        f"{XML_DECL}{ESEARCH_DOCTYPE}\n"
        f"<eSearchResult><ERROR>{escape(message)}</ERROR></eSearchResult>\n"
    )
    return Response(status, body.encode())


def efetch_error(message: str, status: int) -> Response:
    body = (
        f"{XML_DECL}{EFETCH_ERROR_DOCTYPE}\n"
        f"<eFetchResult>\n\t<ERROR>{escape(message)}</ERROR>\n</eFetchResult>\n"
    )
    return Response(status, body.encode())


def error200(endpoint: str, params: dict[str, str]) -> Response:
    """A 200 that carries an error, the way NCBI's backends report trouble."""
    if endpoint == "esearch":
        return esearch_error(
            params.get("retmode", "").lower() == "json",
            "Search Backend failed: Database is not supported: pubmed [STANDIN-ERROR200]",
        )
    if endpoint == "idconv":
        doc = {"status": "error", "message": "Internal error: backend unavailable"}
        return Response(200, json_bytes(doc), "application/json")
    return efetch_error("Unable to obtain query #1", 200)
