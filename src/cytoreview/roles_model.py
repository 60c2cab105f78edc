"""The trained sentence-role model: a linear-chain CRF over hashed features, numpy-only inference.

Scores: each sentence's emission is the sum of its own features' weights (hashed n-grams plus
position/shape ids, :mod:`cytoreview.roles_features`) and of its neighbours' n-gram weights
(separate tables for the previous and the next sentence, and for those two away); learned 5x5
transition matrices (within a section, across a section boundary, and where sections are
unknown one per quarter of the abstract the transition lands in) plus start/end scores
make the decoding sequence-aware (abstracts run background -> purpose -> methods
-> findings -> conclusions, with exceptions the data teaches). Forward-backward gives each
sentence's posterior marginals; the role is the most probable one and the confidence is its
marginal after temperature scaling fitted on a held-out calibration part (reliability table in
``benchmarks/roles.py``). Sentences whose role is already known (NLM-labelled sections of a mixed
abstract) are clamped, so the rest is decoded in their context.

Flat text (no section boundaries) gets a second pass (:class:`Stack`): a small CRF whose
emissions are the first pass's plus a linear function of the first pass's marginals around each
sentence (neighbours one and two away, the abstract's role proportions, what came before and
after), trained on out-of-fold marginals (``scripts/train_roles.py --oof 3``: each abstract of
the train and calibration parts, and each review, scored by a first pass trained on the other
folds, so as unseen as at run time), starting from the first pass and regularised back toward it.

Training data: the fully labelled structured abstracts of the shared PubMed file (each read
flat and with its section boundaries), plus narrative review abstracts with weak labels at a low
weight, so that reviews are not forced into methods and results. Two small priors apply where
sections are unknown (``STRONG_PURPOSE``, ``STATS``).

The weights ship in ``cytoreview/data/roles_model.npz`` (built by ``scripts/train_roles.py``) and
are loaded once, on first use.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cytoreview.errors import CytoreviewWarning
from cytoreview.model import ROLES, Role
from cytoreview.procs import say_once
from cytoreview.roles_features import HASH_BITS, N_POSITION, STAT_SYMBOLS, Batch, featurize

__all__ = [
    "MODEL_FILE",
    "N_STACK",
    "Chain",
    "RoleModel",
    "Stack",
    "forward_backward",
    "length_groups",
    "load_default",
    "stack_features",
]

MODEL_FILE = "roles_model.npz"
#: A sentence that opens by stating the aim ("The aim of this study was to ...", "This article
#: reviews ...") is the purpose wherever it sits; reviews and trial protocols put it last, where
#: research abstracts (all the model saw with real labels) have their conclusions. Added to the
#: purpose score (in logits, before temperature) rather than clamped, so context can still win.
STRONG_PURPOSE = re.compile(
    r"(?:the|our) (?:main |primary |principal |overall )?(?:aims?|purposes?|objectives?|goals?)"
    r"(?: of (?:this|the present|the current|our) (?:study|review|article|paper|work|trial|"
    r"analysis|report|chapter))? (?:is|was|are|were) to\b"
    r"|(?:this|the present|the current|our) (?:article|review|paper|chapter|overview) "
    r"(?:reviews|summari[sz]es|discusses|describes|highlights|examines|outlines)\b"
    r"|we aimed to\b|highlighted in this review\b",
    re.IGNORECASE,
)
PURPOSE_BOOST = 3.0
#: A sentence reporting statistics (%, <, =, ±, ...) is seldom background or purpose; the
#: weakly labelled reviews (all background but aim and close) otherwise drag short research
#: abstracts toward background. Subtracted from those two scores where sections are unknown.
STATS = re.compile(f"[{re.escape(STAT_SYMBOLS)}]")  # what ``Batch.stats`` marks
STATS_PENALTY = 3.0
_CHUNK = 256  # abstracts per featurize call: keeps the working arrays in cache
_CLAMP = 1e4
_PURPOSE = ROLES.index("purpose")
_BACKGROUND = ROLES.index("background")

Array = npt.NDArray[np.float64]


class RoleModel:
    def __init__(
        self,
        w_self: npt.NDArray[np.floating],
        w_prev: npt.NDArray[np.floating],
        w_next: npt.NDArray[np.floating],
        trans: Array,
        start: Array,
        end: Array,
        temperature: float = 1.0,
        w_prev2: npt.NDArray[np.floating] | None = None,
        w_next2: npt.NDArray[np.floating] | None = None,
        stack: Stack | None = None,
    ) -> None:
        if w_self.shape != ((1 << HASH_BITS) + N_POSITION, len(ROLES)):
            raise ValueError(f"role model has shape {w_self.shape}, features expect another")
        # Inference gathers one role column at a time: a column of a transposed table (1 MB)
        # stays in cache where a row gather from the (rows, 5) table misses on every feature.
        # ``w_self`` is a view of it, so the table is held once.
        self._own_t = np.ascontiguousarray(np.asarray(w_self, dtype=np.float32).T)
        self.w_prev = np.asarray(w_prev, dtype=np.float32)
        self.w_next = np.asarray(w_next, dtype=np.float32)
        self.nb_mask = len(self.w_prev) - 1
        # Previous- and next-sentence tables side by side: one gather serves both.
        # Optionally the sentences two before and two after as well (same gather, wider rows).
        self.far = w_prev2 is not None and w_next2 is not None
        tables = [self.w_prev, self.w_next]
        if w_prev2 is not None and w_next2 is not None:
            self.w_prev2 = np.asarray(w_prev2, dtype=np.float32)
            self.w_next2 = np.asarray(w_next2, dtype=np.float32)
            tables += [self.w_prev2, self.w_next2]
        # The neighbour tables are 10 MB, out of cache either way: there a whole row (80 bytes,
        # one or two cache lines) per feature beats a miss per column (0.15 vs 0.31 CPU-s for
        # 20n0014's 6.4 M features). Each row is gathered as one opaque item.
        nb = np.ascontiguousarray(np.hstack(tables), dtype=np.float32)
        self._nb_width = nb.shape[1]
        self._nb_rows = nb.view(np.dtype((np.void, nb.itemsize * self._nb_width))).ravel()
        self.trans = np.asarray(trans, dtype=np.float64).reshape(-1, len(ROLES), len(ROLES))
        self.start = np.asarray(start, dtype=np.float64)
        self.end = np.asarray(end, dtype=np.float64)
        self.temperature = float(temperature)
        self.stack = stack

    @property
    def w_self(self) -> npt.NDArray[np.float32]:
        """The sentence's own feature weights, (features, roles)."""
        return self._own_t.T

    @classmethod
    def load(cls, path: Path | str) -> RoleModel:
        # Our own handle: np.load leaves its file open when a damaged archive makes it fail.
        with open(path, "rb") as handle, np.load(handle) as npz:
            z = {name: npz[name] for name in npz.files}  # each access inflates the array
        bad = [name for name, array in z.items() if not np.isfinite(array).all()]
        if bad:
            # NaN weights made every sentence "background" with confidence null.
            raise ValueError(f"non-finite weights in {', '.join(bad)}")
        far = "w_prev2" in z
        return cls(
            z["w_self"], z["w_prev"], z["w_next"], z["trans"], z["start"], z["end"],
            float(z["temperature"]),
            z["w_prev2"] if far else None, z["w_next2"] if far else None,
            Stack.from_npz(z),
        )

    def save(self, path: Path | str) -> None:
        # float16 halves the file; the weights' precision is far beyond what decisions need.
        arrays: dict[str, Any] = {
            "w_self": self.w_self.astype(np.float16),
            "w_prev": self.w_prev.astype(np.float16),
            "w_next": self.w_next.astype(np.float16),
            "trans": self.trans, "start": self.start, "end": self.end,
            "temperature": np.array(self.temperature),
        }
        if self.far:
            arrays["w_prev2"] = self.w_prev2.astype(np.float16)
            arrays["w_next2"] = self.w_next2.astype(np.float16)
        if self.stack is not None:
            arrays.update(self.stack.to_npz())
        np.savez_compressed(path, **arrays)

    def emissions(self, batch: Batch) -> Array:
        """Per-sentence role scores (n, 5) before the chain."""
        n, k = batch.n, len(ROLES)
        if n == 0:
            return np.zeros((0, k))
        # Hashed n-grams grouped by sentence, so one reduceat sums each sentence's weights.
        order = np.argsort(batch.feat_sent, kind="stable")
        ids = batch.feat_bucket[order]
        counts = np.bincount(batch.feat_sent, minlength=n)
        own = np.zeros((n, k), dtype=np.float32)
        nb = np.zeros((n, self._nb_width), dtype=np.float32)
        # reduceat cannot express an empty group (a sentence without a token): only the
        # sentences that have features are summed, the others keep their zeros.
        has = counts > 0
        if len(ids):
            starts = (np.cumsum(counts) - counts)[has]
            own[has] = _column_sums(self._own_t, ids, starts)
            rows = self._nb_rows.take(ids & self.nb_mask).view(np.float32)
            nb[has] = np.add.reduceat(rows.reshape(len(ids), self._nb_width), starts, axis=0)
        # Position ids (a few hundred table rows, always in cache) count for the sentence only.
        pos = self._own_t.take(batch.pos_ids + (1 << HASH_BITS), axis=1).sum(axis=2).T
        e: Array = (own + pos).astype(np.float64)
        # The previous sentence's words count for sentence i unless i opens an abstract.
        cont = np.ones(n, dtype=bool)
        cont[batch.doc_starts[:-1][batch.doc_starts[:-1] < n]] = False
        e[1:] += np.where(cont[1:, None], nb[:-1, :k], 0.0)
        e[:-1] += np.where(cont[1:, None], nb[1:, k : 2 * k], 0.0)
        if self.far and n > 2:
            cont2 = cont[2:] & cont[1:-1]  # i and i - 2 in one abstract
            e[2:] += np.where(cont2[:, None], nb[:-2, 2 * k : 3 * k], 0.0)
            e[:-2] += np.where(cont2[:, None], nb[2:, 3 * k :], 0.0)
        return e

    def predict_many(
        self,
        abstracts: Sequence[Sequence[str]],
        fixed: Sequence[Sequence[Role | None] | None] | None = None,
        sections: Sequence[Sequence[int] | None] | None = None,
    ) -> list[list[tuple[Role, float]]]:
        """Role and confidence of every sentence of every abstract (each given in order).

        ``fixed`` clamps known roles; ``sections`` gives each sentence's section index where the
        abstract's sections are known (``None`` per abstract, or overall, for flat text).
        """
        out: list[list[tuple[Role, float]]] = []
        for c in range(0, len(abstracts), _CHUNK):
            docs = abstracts[c : c + _CHUNK]
            fx = fixed[c : c + _CHUNK] if fixed is not None else [None] * len(docs)
            sx = sections[c : c + _CHUNK] if sections is not None else None
            out.extend(self._predict_chunk(docs, fx, sx))
        return out

    def predict(
        self,
        sentences: Sequence[str],
        fixed: Sequence[Role | None] | None = None,
        sections: Sequence[int] | None = None,
    ) -> list[tuple[Role, float]]:
        return self.predict_many([sentences], [fixed], [sections])[0]

    def marginals(
        self,
        abstracts: Sequence[Sequence[str]],
        fixed: Sequence[Sequence[Role | None] | None],
        sections: Sequence[Sequence[int] | None] | None = None,
    ) -> tuple[Array, npt.NDArray[np.int64]]:
        """Posterior marginals (n, 5) of all sentences, and each abstract's first index."""
        batch = featurize(abstracts, sections)
        e = self.emissions(batch)
        flat = _add_priors(e, batch, abstracts, sections)
        _clamp(e, fixed, batch.doc_starts)
        t = self.temperature
        marg = forward_backward(
            e / t, batch.edge, self.trans / t, self.start / t, self.end / t, batch.doc_starts
        )
        if self.stack is not None and flat:
            base = (e / t, self.trans / t, self.start / t, self.end / t)
            marg = self.stack.refine(marg, base, batch, sections)
        return marg, batch.doc_starts

    def first_pass(
        self, abstracts: Sequence[Sequence[str]]
    ) -> tuple[Array, tuple[Array, Array, Array, Array], Batch]:
        """Marginals of flat abstracts without the second pass, the scores behind them
        (temperature applied) and the features: what
        ``scripts/train_roles.py`` trains the second pass on."""
        stack, self.stack = self.stack, None
        try:
            marg, _ = self.marginals(abstracts, [None] * len(abstracts))
        finally:
            self.stack = stack
        batch = featurize(abstracts)
        e = self.emissions(batch)
        _add_priors(e, batch, abstracts, None)
        t = self.temperature
        return marg, (e / t, self.trans / t, self.start / t, self.end / t), batch

    def _predict_chunk(
        self,
        docs: Sequence[Sequence[str]],
        fixed: Sequence[Sequence[Role | None] | None],
        sections: Sequence[Sequence[int] | None] | None,
    ) -> list[list[tuple[Role, float]]]:
        if sum(len(d) for d in docs) == 0:
            return [[] for _ in docs]
        marg, starts = self.marginals(docs, fixed, sections)
        best = marg.argmax(axis=1)
        conf = marg[np.arange(len(best)), best]
        labels = [ROLES[k] for k in best.tolist()]
        confs = conf.tolist()
        return [
            list(zip(labels[a:b], confs[a:b], strict=True))
            for a, b in zip(starts[:-1].tolist(), starts[1:].tolist(), strict=True)
        ]


def _column_sums(
    table_t: npt.NDArray[np.float32], ids: npt.NDArray[np.int64], offsets: npt.NDArray[np.int64]
) -> npt.NDArray[np.float32]:
    """(groups, columns): for each group of ``ids`` starting at ``offsets``, the sum of its rows
    of the table whose transpose is ``table_t``. Column by column, with 1-D ``np.take`` (several
    times faster than fancy indexing) and ``reduceat``."""
    out = np.empty((len(table_t), len(offsets)), dtype=np.float32)
    for c, column in enumerate(table_t):
        out[c] = np.add.reduceat(column.take(ids), offsets)
    return out.T


def _add_priors(
    e: Array,
    batch: Batch,
    abstracts: Sequence[Sequence[str]],
    sections: Sequence[Sequence[int] | None] | None,
) -> bool:
    """Add the purpose boost and the statistics penalty to ``e`` (in place) where sections are
    unknown: with boundaries, the section's content decides (a BACKGROUND section often ends on
    the aim, and NLM calls it background). True if a flat abstract has sentences."""
    flat_docs: Sequence[int]
    if sections is None:
        flat_docs = range(len(abstracts))
    else:
        flat_docs = [d for d, sec in enumerate(sections) if sec is None]
    if not flat_docs:
        return False
    starts = batch.doc_starts.tolist()
    boost = [
        starts[d] + i
        for d in flat_docs
        for i, s in enumerate(abstracts[d])
        if STRONG_PURPOSE.match(s)
    ]
    e[boost, _PURPOSE] += PURPOSE_BOOST
    stats = batch.stats
    if len(flat_docs) < len(abstracts):
        lens = np.diff(batch.doc_starts)
        in_flat = np.zeros(len(lens), dtype=bool)
        in_flat[flat_docs] = True
        stats = stats & np.repeat(in_flat, lens)
    e[stats, _BACKGROUND] -= STATS_PENALTY
    e[stats, _PURPOSE] -= STATS_PENALTY
    return any(len(abstracts[d]) for d in flat_docs)


def _clamp(
    e: Array, fixed: Sequence[Sequence[Role | None] | None], doc_starts: npt.NDArray[np.int64]
) -> None:
    """Pin the emissions of sentences whose role is known (in place)."""
    for d, fx in enumerate(fixed):
        if fx is None:
            continue
        base = int(doc_starts[d])
        for i, role in enumerate(fx):
            if role is not None:
                e[base + i] = -_CLAMP
                e[base + i, ROLES.index(role)] = _CLAMP


#: Stacked features per sentence (see :func:`stack_features`).
N_STACK = 5 * 12 + 5


def stack_features(marg: Array, doc_starts: npt.NDArray[np.int64]) -> Array:
    """Second-pass features from first-pass marginals: the sentence's own marginals (and their
    logs), those of the sentences one and two away, the abstract's role proportions, the mean
    and the maximum of each role's marginal before and after the sentence, and a bias."""
    n, k = marg.shape
    lens = np.diff(doc_starts)
    doc_id = np.repeat(np.arange(len(lens)), lens)
    first = doc_starts[:-1][doc_id]
    idx = np.arange(n) - first
    n_of = lens[doc_id]
    out = np.zeros((n, N_STACK))
    out[:, :k] = marg
    out[:, k : 2 * k] = np.log(np.maximum(marg, 1e-4))
    col = 2 * k
    for step in (1, 2, -1, -2):
        src = np.arange(n) - step
        ok = (idx - step >= 0) & (idx - step < n_of)
        out[ok, col : col + k] = marg[src[ok]]
        out[~ok, 12 * k + (1, 2, -1, -2).index(step)] = 1.0
        col += k
    total = np.add.reduceat(marg, doc_starts[:-1][lens > 0], axis=0) if n else marg
    sums = np.zeros((len(lens), k))
    sums[lens > 0] = total
    out[:, col : col + k] = sums[doc_id] / n_of[:, None]
    col += k
    cs = np.cumsum(marg, axis=0) - marg  # sum of all earlier sentences (across abstracts)
    before = cs - cs[first]
    after = sums[doc_id] - before - marg
    denom = np.maximum(n_of - 1, 1)[:, None]
    out[:, col : col + k] = before / denom
    out[:, col + k : col + 2 * k] = after / denom
    col += 2 * k
    # Running maxima within each abstract: offset every abstract above the previous ones.
    off = doc_id[:, None] * 2.0
    m_before = np.maximum.accumulate(np.vstack([np.zeros((1, k)), marg[:-1] + off[:-1]]), axis=0)
    m_before = np.maximum(m_before - off, 0.0)
    m_before[idx == 0] = 0.0
    rev = marg[::-1] + (len(lens) - doc_id[::-1, None]) * 2.0
    m_after = np.maximum.accumulate(np.vstack([np.zeros((1, k)), rev[:-1]]), axis=0)[::-1]
    m_after = np.maximum(m_after - (len(lens) - doc_id[:, None]) * 2.0, 0.0)
    m_after[idx == n_of - 1] = 0.0
    out[:, col : col + k] = m_before
    out[:, col + k : col + 2 * k] = m_after
    col += 2 * k
    out[:, N_STACK - 1] = 1.0
    return out


class Stack:
    """A second CRF pass for flat text over :func:`stack_features` of the first pass."""

    def __init__(self, w: Array, trans: Array, start: Array, end: Array) -> None:
        self.w = np.asarray(w, dtype=np.float64).reshape(N_STACK, len(ROLES))
        self.trans = np.asarray(trans, dtype=np.float64).reshape(-1, len(ROLES), len(ROLES))
        self.start = np.asarray(start, dtype=np.float64)
        self.end = np.asarray(end, dtype=np.float64)

    @classmethod
    def from_npz(cls, z: dict[str, Array]) -> Stack | None:
        if "s2_w" not in z:
            return None
        return cls(z["s2_w"], z["s2_trans"], z["s2_start"], z["s2_end"])

    def to_npz(self) -> dict[str, Array]:
        return {"s2_w": self.w, "s2_trans": self.trans, "s2_start": self.start, "s2_end": self.end}

    def refine(
        self,
        marg: Array,
        base: tuple[Array, Array, Array, Array],
        batch: Batch,
        sections: Sequence[Sequence[int] | None] | None,
    ) -> Array:
        """The marginals with those of flat abstracts replaced by the second pass's."""
        marg2 = self.chain(marg, base, batch.edge, batch.doc_starts)
        if sections is None:
            return marg2
        lens = np.diff(batch.doc_starts)
        is_flat = np.repeat(np.array([sec is None for sec in sections], dtype=bool), lens)
        out: Array = np.where(is_flat[:, None], marg2, marg)
        return out

    def scores(
        self,
        marg: Array,
        base: tuple[Array, Array, Array, Array],
        edge: npt.NDArray[np.int64],
        doc_starts: npt.NDArray[np.int64],
    ) -> tuple[Array, Array, Array, Array]:
        """Second-pass emissions, transitions (by edge kind), start and end: the first pass's
        (``base``, temperature applied) plus what the stacked features add."""
        e1, tr1, start1, end1 = base
        # einsum, not ``@``: a product this small gains nothing from BLAS, and OpenBLAS's
        # threads then spin on every core after each call, taking CPU from the other workers
        # (predict_many on 21n1298: 2.6 CPU-s with ``@``, 1.3 without).
        e2: Array = e1 + np.einsum("ij,jk->ik", stack_features(marg, doc_starts), self.w)
        return e2, tr1 + self.trans, start1 + self.start, end1 + self.end

    def chain(
        self,
        marg: Array,
        base: tuple[Array, Array, Array, Array],
        edge: npt.NDArray[np.int64],
        doc_starts: npt.NDArray[np.int64],
    ) -> Array:
        e2, tr, start, end = self.scores(marg, base, edge, doc_starts)
        return forward_backward(e2, edge, tr, start, end, doc_starts)


class Chain:
    """Forward-backward over a group of sequences padded to one length (log-space)."""

    def __init__(
        self,
        e: Array,
        edge: npt.NDArray[np.int64],
        trans: Array,
        start: Array,
        end: Array,
        firsts: npt.NDArray[np.int64],
        lens: npt.NDArray[np.int64],
    ) -> None:
        big = int(lens.max())
        step = np.arange(big)
        self.lens = lens
        self.valid = step[None, :] < lens[:, None]
        self.index = np.where(self.valid, firsts[:, None] + step[None, :], 0)
        self.em = np.where(self.valid[:, :, None], e[self.index], 0.0)
        # Transition into step t (t >= 1), by each sequence's edge kind there.
        self.tr = trans[edge[self.index[:, 1:]]]
        n_seq, k = len(lens), e.shape[1]
        alpha = np.empty((n_seq, big, k))
        beta = np.empty((n_seq, big, k))
        alpha[:, 0] = start + self.em[:, 0]
        for t in range(1, big):
            alpha[:, t] = _lse(alpha[:, t - 1, :, None] + self.tr[:, t - 1], axis=1) + self.em[:, t]
        beta[:] = end
        for t in range(big - 2, -1, -1):
            nxt = _lse(self.tr[:, t] + (self.em[:, t + 1] + beta[:, t + 1])[:, None, :], axis=2)
            beta[:, t] = np.where((t + 1 < lens)[:, None], nxt, end)
        self.alpha, self.beta = alpha, beta
        self.log_z = _lse(alpha[np.arange(n_seq), lens - 1] + end, axis=1)

    def posteriors(self) -> Array:
        return np.exp(self.alpha + self.beta - self.log_z[:, None, None])


def length_groups(lens: npt.NDArray[np.int64], size: int = 512) -> list[npt.NDArray[np.int64]]:
    """Sequence indices grouped by similar length, so padding wastes little work."""
    order = np.argsort(lens, kind="stable")
    order = order[lens[order] > 0]
    return [order[i : i + size] for i in range(0, len(order), size)]


def forward_backward(
    e: Array,
    edge: npt.NDArray[np.int64],
    trans: Array,
    start: Array,
    end: Array,
    doc_starts: npt.NDArray[np.int64],
) -> Array:
    """Posterior marginals of a linear-chain CRF for many sequences at once.

    Inference runs in probability space with per-step rescaling (no logsumexp): half the array
    operations of the log-space :class:`Chain` the trainer needs for exact gradients, with the
    same marginals to float precision.
    """
    lens = np.diff(doc_starts)
    out = np.zeros_like(e)
    exp_trans = np.exp(trans - trans.max())
    exp_start = np.exp(start - start.max())
    exp_end = np.exp(end - end.max())
    if len(lens) == 1 and lens[0] > 0:
        return _forward_backward_one(e, edge, exp_trans, exp_start, exp_end)
    for group in length_groups(lens):
        glens = lens[group]
        big = int(glens.max())
        step = np.arange(big)
        valid = step[None, :] < glens[:, None]
        index = np.where(valid, doc_starts[group][:, None] + step[None, :], 0)
        em = e[index]
        x = np.exp(em - em.max(axis=2, keepdims=True))
        m = exp_trans[edge[index[:, 1:]]]
        alpha = np.empty_like(x)
        beta = np.empty_like(x)
        a = exp_start * x[:, 0]
        alpha[:, 0] = a / a.sum(axis=1, keepdims=True)
        for t in range(1, big):
            a = np.matmul(alpha[:, t - 1, None, :], m[:, t - 1])[:, 0] * x[:, t]
            alpha[:, t] = a / a.sum(axis=1, keepdims=True)
        beta[:] = exp_end
        for t in range(big - 2, -1, -1):
            b = np.matmul(m[:, t], (x[:, t + 1] * beta[:, t + 1])[:, :, None])[:, :, 0]
            b = b / b.sum(axis=1, keepdims=True)
            beta[:, t] = np.where((t + 1 < glens)[:, None], b, exp_end)
        post = alpha * beta
        post /= post.sum(axis=2, keepdims=True)
        out[index[valid]] = post[valid]
    return out


def _forward_backward_one(
    e: Array, edge: npt.NDArray[np.int64], exp_trans: Array, exp_start: Array, exp_end: Array
) -> Array:
    """The single-sequence case (``annotate`` on one article) with 1-D vectors: fewer, cheaper
    array operations than the padded batch path."""
    n = len(e)
    x = np.exp(e - e.max(axis=1, keepdims=True))
    m = exp_trans[edge]
    alpha = np.empty_like(x)
    a = exp_start * x[0]
    alpha[0] = a / a.sum()
    for t in range(1, n):
        a = (alpha[t - 1] @ m[t]) * x[t]
        alpha[t] = a / a.sum()
    beta = np.empty_like(x)
    beta[n - 1] = exp_end
    for t in range(n - 2, -1, -1):
        b = m[t + 1] @ (x[t + 1] * beta[t + 1])
        beta[t] = b / b.sum()
    post: Array = alpha * beta
    post /= post.sum(axis=1, keepdims=True)
    return post


def _lse(x: Array, axis: int) -> Array:
    m = x.max(axis=axis, keepdims=True)
    out: Array = np.log(np.exp(x - m).sum(axis=axis)) + np.squeeze(m, axis=axis)
    return out


def load_default() -> RoleModel | None:
    """The shipped model, or None when the file is absent (a bare source checkout) or
    damaged; a damaged file is also reported as a :class:`CytoreviewWarning`, since the
    baseline's roles are much less accurate."""
    ref = resources.files("cytoreview") / "data" / MODEL_FILE
    try:
        with resources.as_file(ref) as path:
            if not path.is_file():
                return None
            return RoleModel.load(path)
    except Exception as exc:  # numpy, zipfile, zlib and EOF errors alike
        if not say_once():  # once, not once per worker process
            return None
        warnings.warn(
            f"the role model {ref} cannot be read ({type(exc).__name__}: {exc}); roles come "
            "from the cue-phrase baseline until cytoreview is reinstalled",
            CytoreviewWarning, stacklevel=2)
        return None
