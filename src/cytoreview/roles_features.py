"""Sentence features for the role model, computed for a whole batch of abstracts in numpy.

Speed is the design constraint (roles run on every abstract; the target is 50,000 sentences/s on
one core), so nothing here loops over tokens in Python:

* the batch is lowercased and joined once, turned into a code-point array, digits folded to ``0``;
* tokens are runs of word characters (ASCII letters, digits, letters beyond Latin-1 such as Greek)
  plus single-character statistics symbols (``% < > = ± ≤ ≥``), found with array shifts;
* each token is hashed with a polynomial prefix hash (uint64, wrapping), unigrams, bigrams and
  trigrams (with a sentence-start marker) are mixed into ``2**HASH_BITS`` buckets -- a fixed-size
  weight table, so no vocabulary has to ship or be looked up;
* position and shape features (relative position, index from start and end, sentence count,
  length, how many numbers; and, when the abstract's AbstractText sections are known even without
  their labels, the sentence's place in its section and the section's place in the abstract) are
  ids into a small extra table;
* ``edge`` says, for each sentence, whether it continues its predecessor's section, opens a new
  one, or that sections are unknown (then also which quarter of the abstract it is in): the model
  keeps one transition matrix per case.

Training (``scripts/train_roles.py``) and inference use this same function, so the features can
never drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
import numpy.typing as npt

__all__ = [
    "EDGE_FLAT", "EDGE_NEW", "EDGE_SAME", "HASH_BITS", "N_EDGE", "N_POSITION", "STAT_SYMBOLS",
    "Batch", "featurize",
]

HASH_BITS = 18
_MASK64 = (1 << 64) - 1
_P = 0x100000001B3  # odd, so it has an inverse modulo 2**64 (needed to shift a prefix hash)
_P_INV = pow(_P, -1, 1 << 64)
_MIX = np.uint64(0x9E3779B97F4A7C15)
_SHIFT = np.uint64(64 - HASH_BITS)
_SALT_UNI = np.uint64(0x51ED270B27E5D1B1)
_SALT_BI = np.uint64(0x2545F4914F6CDD1D)
_SALT_TRI = np.uint64(0x7F4A7C159E3779B9)
_SALT_POS = np.uint64(0x3C6EF372FE94F82B)
_SALT_OPEN = np.uint64(0xA54FF53A5F1D36F1)
_OPEN_UPTO = 3  # opening words and bigrams crossed with the fine relative position
_TRIGRAM_UPTO = 4  # trigrams only at a sentence's opening ("<s> to evaluate", "the aim of")
_BOS = np.uint64(0xD6E8FEB86659FD93)
_Q = np.uint64(0x880355F21E6D1965)
#: Statistics symbols: tokens of their own, and ``Batch.stats`` marks the sentences with one.
STAT_SYMBOLS = "%<>=±≤≥"
_STAT_SET = frozenset(STAT_SYMBOLS)
_SYMBOLS = np.array([ord(c) for c in STAT_SYMBOLS], dtype=np.uint32)
# Lookup table for "is a statistics symbol" (np.isin costs more than the rest of a small batch).
_SYM_LUT = np.zeros(int(_SYMBOLS.max()) + 2, dtype=bool)
_SYM_LUT[_SYMBOLS] = True

# Position table layout (see _position_ids).
_REL_BINS = 8
_EDGE = 5
_N_EDGES = np.array([2, 4, 6, 8, 11, 15])  # sentence-count bins: 1, 2-3, 4-5, 6-7, 8-10, 11-14, 15+
_LEN_EDGES = np.array([6, 11, 18, 26, 36, 51])
_NUM_EDGES = np.array([1, 2, 3, 5, 8])
_N_BINS = len(_N_EDGES) + 1
_OFF_START = _REL_BINS
_OFF_END = _OFF_START + _EDGE
_OFF_N = _OFF_END + _EDGE
_OFF_LEN = _OFF_N + _N_BINS
_OFF_NUM = _OFF_LEN + len(_LEN_EDGES) + 1
_OFF_JOINT = _OFF_NUM + len(_NUM_EDGES) + 1
_OFF_BIAS = _OFF_JOINT + _REL_BINS * _N_BINS
# Section slots: each has an "unknown" id first (sections not given, i.e. one flat text).
_SEC_REL_BINS = 4
_NSEC_EDGES = np.array([3, 4, 5, 6])  # 2 or fewer, 3, 4, 5, 6+
_INSEC_EDGES = np.array([2, 3, 5])  # sentences in the section: 1, 2, 3-4, 5+
_OFF_SFIRST = _OFF_BIAS + 1
_OFF_SLAST = _OFF_SFIRST + 3
_OFF_SREL = _OFF_SLAST + 3
_OFF_NSEC = _OFF_SREL + 1 + _SEC_REL_BINS
_OFF_INSEC = _OFF_NSEC + 1 + len(_NSEC_EDGES) + 1
# Numeric context: is this sentence numeric, and how many numeric sentences come before / after
# it in the abstract (0, 1, 2+). Methods precede the numbers; conclusions follow the last one.
_OFF_NUMCTX = _OFF_INSEC + 1 + len(_INSEC_EDGES) + 1
# Explicit cue phrases (``roles_baseline``), by the third of the abstract they sit in: a review's
# "This article reviews ..." is its purpose even in last place.
_OFF_CUE = _OFF_NUMCTX + 18
# Flat-context joints: own numeric x previous / next sentence numeric (absent = 2), sentence
# length x relative position, index from start / end x sentence count.
_OFF_NBNUM = _OFF_CUE + 12
_OFF_LENREL = _OFF_NBNUM + 18
_OFF_STARTN = _OFF_LENREL + (len(_LEN_EDGES) + 1) * _REL_BINS
_OFF_ENDN = _OFF_STARTN + _EDGE * _N_BINS
N_POSITION = _OFF_ENDN + _EDGE * _N_BINS
N_POS_COLS = 20  # position ids per sentence
# Cue bigrams, matched by their 64-bit hashes (exact, unlike buckets): a regex over the text
# would cost more than all other features together.
_PURPOSE_BIGRAMS = (
    "this article", "this review", "this paper", "this chapter", "this overview", "are reviewed",
    "is reviewed", "were reviewed", "we review", "here we", "herein we", "the aim", "aim of",
    "aims of", "we aimed", "the purpose", "purpose of", "the objective", "objective of",
    "objectives of", "the goal", "goal of", "sought to", "we describe", "we discuss",
    "are discussed", "is discussed", "are summarized", "are summarised", "are highlighted",
    "we summarize", "we summarise", "we highlight", "reviews the", "aim is", "aim was", "aims to",
    "aimed to", "to review", "review the", "review of",
)
_CONCLUSION_BIGRAMS = (
    "in conclusion", "we conclude", "to conclude", "in summary", "taken together",
    "these findings", "these results", "these data", "our findings", "our results", "our data",
    "further studies", "further research", "future studies", "future research", "is warranted",
    "are warranted", "are needed", "is needed", "suggest that", "findings suggest",
    "results suggest", "may provide", "could be", "may be",
)
#: Transition kinds: sections unknown (or first sentence), same section, new section; where
#: sections are unknown, the transition also depends on where in the abstract it lands
#: (EDGE_FLAT for the first quarter, then one kind per further quarter).
EDGE_FLAT, EDGE_SAME, EDGE_NEW = 0, 1, 2
_FLAT_BINS = 4
N_EDGE = 3 + _FLAT_BINS - 1

_pow_cache: dict[str, tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]] = {}
_cue_cache: dict[str, tuple[npt.NDArray[np.uint8], list[npt.NDArray[np.uint64]]]] = {}
_CUE_SHIFT = np.uint64(48)


@dataclass(frozen=True)
class Batch:
    """Features of ``n`` sentences from several abstracts, in order."""

    n: int
    doc_starts: npt.NDArray[np.int64]  # index of each abstract's first sentence, plus n at the end
    feat_sent: npt.NDArray[np.int64]  # sentence of each hashed feature
    feat_bucket: npt.NDArray[np.int64]  # its bucket in [0, 2**HASH_BITS)
    pos_ids: npt.NDArray[np.int64]  # (n, k) ids into the position table
    edge: npt.NDArray[np.int64]  # (n,) EDGE_* kind of the transition into each sentence
    stats: npt.NDArray[np.bool_]  # (n,) the sentence holds one of STAT_SYMBOLS


def _powers(n: int) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    # Fetch workers call this from several threads: read and publish the pair as one value.
    have = _pow_cache.get("pi")
    if have is None or len(have[0]) < n + 1:
        size = max(n + 1, 1 << 16)
        have = (_cumpow(_P, size), _cumpow(_P_INV, size))
        _pow_cache["pi"] = have
    return have


def _cumpow(base: int, size: int) -> npt.NDArray[np.uint64]:
    arr = np.full(size, base & _MASK64, dtype=np.uint64)
    arr[0] = 1
    with np.errstate(over="ignore"):
        return np.cumprod(arr, dtype=np.uint64)


def _phrase_bigram_hash(phrase: str) -> int:
    """The ``bi_h`` that :func:`featurize` computes for a two-word phrase."""
    first, second = (
        sum(ord(ch) * pow(_P, k, 1 << 64) for k, ch in enumerate(word)) & _MASK64
        for word in phrase.split()
    )
    return (first * int(_Q) + second) & _MASK64


def _cue_hashes() -> tuple[npt.NDArray[np.uint8], list[npt.NDArray[np.uint64]]]:
    """A filter (bit ``c`` set where a hash of table ``c`` may have those top 16 bits) and the
    sorted hash tables: a lookup in 64 KB stays in cache, where a binary search over every
    bigram of a batch cost 2 ms a chunk."""
    have = _cue_cache.get("cues")
    if have is None:
        tables = [
            np.sort(np.array([_phrase_bigram_hash(p) for p in phrases], dtype=np.uint64))
            for phrases in (_PURPOSE_BIGRAMS, _CONCLUSION_BIGRAMS)
        ]
        bits = np.zeros(1 << 16, dtype=np.uint8)
        for c, table in enumerate(tables):
            bits[(table >> _CUE_SHIFT).astype(np.intp)] |= np.uint8(1 << c)
        have = (bits, tables)
        _cue_cache["cues"] = have  # published as one value (threads)
    return have


def _bucket(h: npt.NDArray[np.uint64], salt: np.uint64) -> npt.NDArray[np.int64]:
    with np.errstate(over="ignore"):
        return (((h ^ salt) * _MIX) >> _SHIFT).astype(np.int64)


def featurize(
    abstracts: Sequence[Sequence[str]],
    sections: Sequence[Sequence[int] | None] | None = None,
) -> Batch:
    """Hashed n-gram and position features for every sentence of every abstract.

    ``sections`` optionally gives, per abstract, the section index of each of its sentences
    (``None`` for an abstract read as one flat text).
    """
    sentences = list(chain.from_iterable(abstracts))
    n = len(sentences)
    doc_lens = np.fromiter((len(doc) for doc in abstracts), dtype=np.int64, count=len(abstracts))
    doc_starts = np.concatenate(([0], np.cumsum(doc_lens))).astype(np.int64)
    sec_of = _section_index(abstracts, sections, n)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Batch(
            0, doc_starts, empty, empty, np.zeros((0, N_POS_COLS), np.int64), empty,
            np.zeros(0, dtype=bool),
        )
    # "\n" separates sentences, and is not a token character, so no n-gram crosses sentences.
    joined = "\n".join(sentences).lower() + "\n"
    codes = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).copy()
    sent_lens = np.fromiter(map(len, sentences), dtype=np.int64, count=n) + 1
    sent_starts = np.concatenate(([0], np.cumsum(sent_lens)[:-1])).astype(np.int64)

    digit = (codes >= 48) & (codes <= 57)
    codes[digit] = 48
    word = (
        ((codes >= 97) & (codes <= 122))
        | digit
        # Letters beyond ASCII (Greek, accented), but not punctuation/math blocks nor × and ÷.
        | ((codes >= 0xC0) & ((codes < 0x2000) | (codes > 0x2BFF)) & (codes != 0xD7)
           & (codes != 0xF7))
    )
    sym = _SYM_LUT[np.minimum(codes, len(_SYM_LUT) - 1)]
    prev_word = np.concatenate(([False], word[:-1]))
    next_word = np.concatenate((word[1:], [False]))
    w_start = np.flatnonzero(word & ~prev_word)
    w_end = np.flatnonzero(word & ~next_word) + 1
    s_start = np.flatnonzero(sym)
    t_start = np.concatenate((w_start, s_start))
    t_end = np.concatenate((w_end, s_start + 1))
    order = np.argsort(t_start, kind="stable")
    t_start, t_end = t_start[order], t_end[order]

    ppow, pinv = _powers(len(codes))
    with np.errstate(over="ignore"):
        weighted = codes.astype(np.uint64) * ppow[: len(codes)]
        prefix = np.concatenate(([np.uint64(0)], np.cumsum(weighted, dtype=np.uint64)))
        tok_h = (prefix[t_end] - prefix[t_start]) * pinv[t_start]
    tok_sent = np.searchsorted(sent_starts, t_start, side="right") - 1

    first = np.ones(len(tok_sent), dtype=bool)
    first[1:] = tok_sent[1:] != tok_sent[:-1]
    prev_h = np.empty_like(tok_h)
    prev_h[0:1] = _BOS
    prev_h[1:] = tok_h[:-1]
    prev_h[first] = _BOS
    second = np.zeros(len(tok_sent), dtype=bool)
    second[1:] = ~first[1:] & first[:-1]
    prev2_h = np.empty_like(tok_h)
    prev2_h[0:2] = _BOS
    prev2_h[2:] = tok_h[:-2]
    prev2_h[first | second] = _BOS
    with np.errstate(over="ignore"):
        bi_h = prev_h * _Q + tok_h
        tri_h = (prev2_h * _Q + prev_h) * _Q + tok_h
    ar = np.arange(len(tok_sent))
    tok_index = ar - np.maximum.accumulate(np.where(first, ar, 0))
    opening = tok_index < _TRIGRAM_UPTO
    pos_ids, tercile, rel_bin = _position_ids(doc_lens, sec_of, tok_sent, digit[t_start])
    cue_cols = []
    cue_bits, cue_tables = _cue_hashes()
    maybe = np.flatnonzero(cue_bits[(bi_h >> _CUE_SHIFT).astype(np.intp)])
    maybe_h = bi_h[maybe]
    for c, table in enumerate(cue_tables):
        hit = np.zeros(n, dtype=np.int64)
        pos = np.minimum(np.searchsorted(table, maybe_h), len(table) - 1)
        hit[tok_sent[maybe[table[pos] == maybe_h]]] = 1
        cue_cols.append(_OFF_CUE + c * 6 + hit * 3 + tercile)
    pos_ids = np.concatenate((pos_ids, np.stack(cue_cols, axis=1)), axis=1)
    # Words conjoined with the third of the abstract they sit in: "we found" early is not late.
    with np.errstate(over="ignore"):
        pos_h = tok_h + tercile[tok_sent].astype(np.uint64) * _Q
        # The opening words and bigram, by the eighth of the abstract they open.
        opens = tok_index < _OPEN_UPTO
        open_h = (bi_h[opens] + _Q) * (rel_bin[tok_sent[opens]].astype(np.uint64) + np.uint64(3))
    buckets = np.concatenate(
        (
            _bucket(tok_h, _SALT_UNI),
            _bucket(bi_h, _SALT_BI),
            _bucket(tri_h[opening], _SALT_TRI),
            _bucket(pos_h, _SALT_POS),
            _bucket(open_h, _SALT_OPEN),
        )
    )
    feat_sent = np.concatenate(
        (tok_sent, tok_sent, tok_sent[opening], tok_sent, tok_sent[opens])
    )
    edge = np.zeros(n, dtype=np.int64)
    known = sec_of >= 0
    edge[1:] = np.where(
        known[1:] & known[:-1], np.where(sec_of[1:] == sec_of[:-1], EDGE_SAME, EDGE_NEW), EDGE_FLAT
    )
    flat_q = np.minimum(rel_bin * _FLAT_BINS // _REL_BINS, _FLAT_BINS - 1)
    edge = np.where(edge == EDGE_FLAT, np.where(flat_q == 0, EDGE_FLAT, 2 + flat_q), edge)
    edge[doc_starts[:-1][doc_lens > 0]] = EDGE_FLAT
    if len(codes) == int(sent_starts[-1] + sent_lens[-1]):
        stats = np.zeros(n, dtype=bool)
        stats[tok_sent[np.searchsorted(t_start, s_start)]] = True
    else:  # lowercasing lengthened a character ("İ"): positions no longer map to sentences
        stats = np.fromiter(
            (not _STAT_SET.isdisjoint(s) for s in sentences), dtype=bool, count=n
        )
    return Batch(n, doc_starts, feat_sent.astype(np.int64), buckets, pos_ids, edge, stats)


def _section_index(
    abstracts: Sequence[Sequence[str]], sections: Sequence[Sequence[int] | None] | None, n: int
) -> npt.NDArray[np.int64]:
    """Each sentence's section index, or -1 throughout an abstract read flat."""
    if sections is None:
        return np.full(n, -1, dtype=np.int64)
    flat: list[int] = []
    for doc, sec in zip(abstracts, sections, strict=True):
        if sec is None:
            flat += [-1] * len(doc)
        elif len(sec) == len(doc):
            flat += sec
        else:
            raise ValueError(f"{len(sec)} section indices for {len(doc)} sentences")
    return np.array(flat, dtype=np.int64)


def _position_ids(
    doc_lens: npt.NDArray[np.int64],
    sec_of: npt.NDArray[np.int64],
    tok_sent: npt.NDArray[np.int64],
    tok_is_num: npt.NDArray[np.bool_],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    n = len(sec_of)
    n_tok = np.bincount(tok_sent, minlength=n)
    n_num = np.bincount(tok_sent, weights=tok_is_num, minlength=n).astype(np.int64)
    n_of = np.repeat(doc_lens, doc_lens)
    starts = np.repeat(np.cumsum(doc_lens) - doc_lens, doc_lens)
    idx = np.arange(n) - starts
    rel = np.where(n_of > 1, idx / np.maximum(n_of - 1, 1), 0.0)
    rel_bin = np.minimum((rel * _REL_BINS).astype(np.int64), _REL_BINS - 1)
    n_bin = np.searchsorted(_N_EDGES, n_of, side="right")
    cols = [
        rel_bin,
        _OFF_START + np.minimum(idx, _EDGE - 1),
        _OFF_END + np.minimum(n_of - 1 - idx, _EDGE - 1),
        _OFF_N + n_bin,
        _OFF_LEN + np.searchsorted(_LEN_EDGES, n_tok, side="right"),
        _OFF_NUM + np.searchsorted(_NUM_EDGES, n_num, side="right"),
        _OFF_JOINT + rel_bin * _N_BINS + n_bin,
        np.full(n, _OFF_BIAS),
    ]
    cols.extend(_section_ids(sec_of, starts))
    numeric = (n_num >= 2).astype(np.int64)
    cum = np.cumsum(numeric) - numeric
    before = cum - cum[starts]
    doc_id = np.repeat(np.arange(len(doc_lens)), doc_lens)
    total = np.bincount(doc_id, weights=numeric, minlength=len(doc_lens)).astype(np.int64)
    after = total[doc_id] - before - numeric
    cols.append(
        _OFF_NUMCTX + numeric * 9 + np.minimum(before, 2) * 3 + np.minimum(after, 2)
    )
    prev_num = np.full(n, 2, dtype=np.int64)
    prev_num[1:] = numeric[:-1]
    prev_num[idx == 0] = 2
    next_num = np.full(n, 2, dtype=np.int64)
    next_num[:-1] = numeric[1:]
    next_num[idx == n_of - 1] = 2
    len_bin = np.searchsorted(_LEN_EDGES, n_tok, side="right")
    cols += [
        _OFF_NBNUM + numeric * 9 + prev_num * 3 + next_num,
        _OFF_LENREL + len_bin * _REL_BINS + rel_bin,
        _OFF_STARTN + np.minimum(idx, _EDGE - 1) * _N_BINS + n_bin,
        _OFF_ENDN + np.minimum(n_of - 1 - idx, _EDGE - 1) * _N_BINS + n_bin,
    ]
    tercile = np.minimum((rel * 3).astype(np.int64), 2)
    return np.stack(cols, axis=1).astype(np.int64), tercile, rel_bin


def _section_ids(
    sec_of: npt.NDArray[np.int64], doc_first: npt.NDArray[np.int64]
) -> list[npt.NDArray[np.int64]]:
    n = len(sec_of)
    known = sec_of >= 0
    if not known.any():
        offsets = (_OFF_SFIRST, _OFF_SLAST, _OFF_SREL, _OFF_NSEC, _OFF_INSEC)
        return [np.full(n, off) for off in offsets]
    # A run = consecutive sentences of one abstract with the same section index.
    new_run = np.ones(n, dtype=bool)
    new_run[1:] = (sec_of[1:] != sec_of[:-1]) | (doc_first[1:] != doc_first[:-1])
    run_id = np.cumsum(new_run) - 1
    run_len = np.bincount(run_id)
    last = np.ones(n, dtype=bool)
    last[:-1] = new_run[1:]
    # Section rank within the abstract and the abstract's section count.
    run_doc = doc_first[new_run]
    first_run_of_doc = np.searchsorted(run_doc, run_doc, side="left")
    rank = np.arange(len(run_doc)) - first_run_of_doc
    n_sec = np.bincount(np.searchsorted(np.unique(run_doc), run_doc))[
        np.searchsorted(np.unique(run_doc), run_doc)
    ]
    srel = np.where(n_sec > 1, rank / np.maximum(n_sec - 1, 1), 0.0)
    srel_bin = np.minimum((srel * _SEC_REL_BINS).astype(np.int64), _SEC_REL_BINS - 1)
    per = run_id
    return [
        np.where(known, _OFF_SFIRST + 1 + (~new_run).astype(np.int64), _OFF_SFIRST),
        np.where(known, _OFF_SLAST + 1 + (~last).astype(np.int64), _OFF_SLAST),
        np.where(known, _OFF_SREL + 1 + srel_bin[per], _OFF_SREL),
        np.where(
            known, _OFF_NSEC + 1 + np.searchsorted(_NSEC_EDGES, n_sec[per], "right"), _OFF_NSEC
        ),
        np.where(
            known, _OFF_INSEC + 1 + np.searchsorted(_INSEC_EDGES, run_len[per], "right"), _OFF_INSEC
        ),
    ]
