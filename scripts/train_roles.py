"""Train the sentence-role CRF and write src/cytoreview/data/roles_model.npz.

    python scripts/train_roles.py --final    # the shipped model (~25 min on one core)
    python scripts/train_roles.py            # train part only: calibrate, report, save
    python scripts/train_roles.py --no-save  # the same without writing the model (for iterating)
    python scripts/train_roles.py --final --oof 0 --l2-stack 30  # the previous model (5ccb104)

``--final`` first trains on the train part (with the narrative reviews outside the calibration
part), fits the temperature on the calibration part and reports calib/dev; trains the second pass
for flat text (``roles_model.Stack``) and reports dev; then retrains the first pass on train +
calibration parts (all reviews) with that temperature and second pass and reports dev again (dev
is never trained on, so every report is honest).

The second pass learns from first-pass marginals of text that first pass never saw. With ``--oof
K`` (default 3) the train and calibration parts (and the reviews) are cut into K folds by PMID; a
first pass is trained on each K - 1 folds and gives the held-out fold its marginals (at the
temperature fitted above), and the second pass is fitted on all of them (K more trainings, each
on (K - 1) / K of the data; ``--l2-stack`` 10). With ``--oof 0`` it is fitted on the calibration
part and its reviews only, scored by the train-part model (the previous recipe, with
``--l2-stack 30``). ``--temperature T`` skips the train-part model, whose only remaining use with
``--oof`` is the temperature (to reproduce the shipped file bit for bit, give the full-precision
value stored in it, ``1.8000000000000012``).

Reproducible: the corpus split is by PMID (``roles_corpus.part``), the start is all zeros and the
optimiser (L-BFGS on the full-batch, convex CRF log-likelihood with L2) is deterministic, so
nothing is random; ``SEED`` is fixed for any sampling added later. The dev part is never
used for training or calibration.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy import optimize, sparse  # type: ignore[import-untyped]

sys.path.insert(0, str(Path(__file__).resolve().parent))
import roles_corpus

from cytoreview.model import ROLES, Role
from cytoreview.roles_features import HASH_BITS, N_EDGE, N_POSITION, featurize
from cytoreview.roles_model import (
    N_STACK,
    Chain,
    RoleModel,
    Stack,
    forward_backward,
    length_groups,
    stack_features,
)

SEED = 20211298
NB_BITS = 17
OUT = Path(__file__).resolve().parents[1] / "src" / "cytoreview" / "data" / "roles_model.npz"
K = len(ROLES)
D_SELF = (1 << HASH_BITS) + N_POSITION
D_NB = 1 << NB_BITS

Array = npt.NDArray[np.float64]


class Design:
    """Sparse design matrices of a set of abstracts, shaped like RoleModel.emissions."""

    def __init__(
        self,
        abstracts: Sequence[Sequence[str]],
        labels: Sequence[Sequence[Role]],
        sections: Sequence[Sequence[int] | None],
        weights: Sequence[float] | None = None,
        far: bool = False,
    ):
        rows_s, cols_s, rows_n, cols_n, doc_starts = [], [], [], [], [np.zeros(1, np.int64)]
        edges = []
        base = 0
        for c in range(0, len(abstracts), 256):
            b = featurize(abstracts[c : c + 256], sections[c : c + 256])
            edges.append(b.edge)
            rows_s += [b.feat_sent + base, np.repeat(np.arange(b.n), b.pos_ids.shape[1]) + base]
            cols_s += [b.feat_bucket, b.pos_ids.ravel() + (1 << HASH_BITS)]
            rows_n.append(b.feat_sent + base)
            cols_n.append(b.feat_bucket & (D_NB - 1))
            doc_starts.append(b.doc_starts[1:] + base)
            base += b.n
        n = base
        self.n = n
        self.doc_starts = np.concatenate(doc_starts)
        self.edge = np.concatenate(edges)
        self.lens = np.diff(self.doc_starts)
        self.groups = length_groups(self.lens, 1024)
        self.doc_w = np.ones(len(self.lens)) if weights is None else np.asarray(weights, float)
        self.sent_w = np.repeat(self.doc_w, self.lens)
        rs, cs = np.concatenate(rows_s), np.concatenate(cols_s)
        self.x_self = sparse.csr_matrix((np.ones(len(rs)), (rs, cs)), shape=(n, D_SELF))
        rn, cn = np.concatenate(rows_n), np.concatenate(cols_n)
        x_nb = sparse.csr_matrix((np.ones(len(rn)), (rn, cn)), shape=(n, D_NB))
        first = np.zeros(n + 1, dtype=bool)
        first[self.doc_starts] = True
        i = np.arange(1, n)
        ok = ~first[1:n]
        shift_prev = sparse.csr_matrix((np.ones(ok.sum()), (i[ok], i[ok] - 1)), shape=(n, n))
        shift_next = sparse.csr_matrix((np.ones(ok.sum()), (i[ok] - 1, i[ok])), shape=(n, n))
        self.x_prev = (shift_prev @ x_nb).tocsr()
        self.x_next = (shift_next @ x_nb).tocsr()
        self.x_self_t = self.x_self.T.tocsr()
        self.x_prev_t = self.x_prev.T.tocsr()
        self.x_next_t = self.x_next.T.tocsr()
        self.far = far
        if far:
            # Two back / two ahead: shift the one-step matrices once more within an abstract.
            ok2 = ok[1:] & ok[:-1]
            i2 = np.arange(2, n)
            sp2 = sparse.csr_matrix((np.ones(ok2.sum()), (i2[ok2], i2[ok2] - 2)), shape=(n, n))
            sn2 = sparse.csr_matrix((np.ones(ok2.sum()), (i2[ok2] - 2, i2[ok2])), shape=(n, n))
            self.x_prev2 = (sp2 @ x_nb).tocsr()
            self.x_next2 = (sn2 @ x_nb).tocsr()
            self.x_prev2_t = self.x_prev2.T.tocsr()
            self.x_next2_t = self.x_next2.T.tocsr()
        self.y = np.array([ROLES.index(r) for doc in labels for r in doc], dtype=np.int64)


def n_params(far: bool) -> int:
    return (D_SELF + (4 if far else 2) * D_NB) * K + N_EDGE * K * K + 2 * K


def unpack(theta: Array, far: bool) -> tuple[Array, list[Array], Array, Array, Array]:
    """Own weights, neighbour tables (prev, next[, prev2, next2]), transitions, start, end."""
    a = D_SELF * K
    w = theta[:a].reshape(D_SELF, K)
    nbs = []
    for _ in range(4 if far else 2):
        nbs.append(theta[a : a + D_NB * K].reshape(D_NB, K))
        a += D_NB * K
    c = a
    return (
        w,
        nbs,
        theta[c : c + N_EDGE * K * K].reshape(N_EDGE, K, K),
        theta[c + N_EDGE * K * K : c + N_EDGE * K * K + K],
        theta[c + N_EDGE * K * K + K : c + N_EDGE * K * K + 2 * K],
    )


def crf_nll(theta: Array, d: Design, l2: float, l2_nb: float) -> tuple[float, Array]:
    w, nbs, trans, start, end = unpack(theta, d.far)
    xs = [d.x_prev, d.x_next] + ([d.x_prev2, d.x_next2] if d.far else [])
    xts = [d.x_prev_t, d.x_next_t] + ([d.x_prev2_t, d.x_next2_t] if d.far else [])
    e = d.x_self @ w
    for x, wt in zip(xs, nbs, strict=True):
        e = e + x @ wt
    nll, g_e, g_tf, g_start, g_end = _chain(e, trans[d.edge], start, end, d)
    grad = np.concatenate(
        [(d.x_self_t @ g_e + l2 * w).ravel()]
        + [(xt @ g_e + l2_nb * wt).ravel() for xt, wt in zip(xts, nbs, strict=True)]
        + [by_kind(g_tf, d.edge).ravel(), g_start, g_end]
    )
    reg = 0.5 * l2 * float((w * w).sum()) + 0.5 * l2_nb * sum(float((x * x).sum()) for x in nbs)
    return nll + reg, grad


def by_kind(g_tf: Array, edge: npt.NDArray[np.int64]) -> Array:
    """Per-sentence transition gradients summed into the shared matrices of each edge kind."""
    return np.stack([g_tf[edge == kind].sum(axis=0) for kind in range(N_EDGE)])


def _chain(
    e: Array,
    trans: Array,
    start: Array,
    end: Array,
    d: Design | StackDesign | OofStackDesign,
) -> tuple[float, Array, Array, Array, Array]:
    """NLL of the gold chains and its gradients (emissions, transitions, start, end).

    ``trans`` holds one matrix per sentence (the transition into it); so does its gradient.
    """
    g_e = np.zeros_like(e)
    g_trans = np.zeros_like(trans)
    every = np.arange(len(e))
    g_start = np.zeros(K)
    g_end = np.zeros(K)
    log_z = 0.0
    for group in d.groups:
        ch = Chain(e, every, trans, start, end, d.doc_starts[group], d.lens[group])
        wg = d.doc_w[group]
        log_z += float((ch.log_z * wg).sum())
        post = ch.posteriors() * wg[:, None, None]
        g_e[ch.index[ch.valid]] = post[ch.valid]
        g_start += post[:, 0].sum(axis=0)
        g_end += post[np.arange(len(group)), ch.lens - 1].sum(axis=0)
        pair = (
            ch.alpha[:, :-1, :, None]
            + ch.tr
            + (ch.em[:, 1:] + ch.beta[:, 1:])[:, :, None, :]
            - ch.log_z[:, None, None, None]
        )
        pv = ch.valid[:, 1:]
        pair = np.exp(pair) * wg[:, None, None, None]
        g_trans[ch.index[:, 1:][pv]] = pair[pv]
    y = d.y
    sw = d.sent_w
    g_e[np.arange(len(y)), y] -= sw
    first = d.doc_starts[:-1]
    lastidx = d.doc_starts[1:] - 1
    same = np.ones(len(y), dtype=bool)
    same[first] = False
    cur = np.flatnonzero(same)
    g_trans[cur, y[cur - 1], y[cur]] -= sw[cur]
    g_start -= np.bincount(y[first], weights=d.doc_w, minlength=K)
    g_end -= np.bincount(y[lastidx], weights=d.doc_w, minlength=K)
    gold = (
        (e[np.arange(len(y)), y] * sw).sum()
        + (trans[cur, y[cur - 1], y[cur]] * sw[cur]).sum()
        + (start[y[first]] * d.doc_w).sum()
        + (end[y[lastidx]] * d.doc_w).sum()
    )
    return float(log_z - gold), g_e, g_trans, g_start, g_end


def train(d: Design, l2: float, l2_nb: float, iters: int) -> RoleModel:
    size = n_params(d.far)
    # The CRF objective is convex, so zeros are as good a start as any, and buckets no training
    # feature hashes to stay exactly zero: the shipped file then compresses well.
    theta0 = np.zeros(size)
    t0 = time.time()
    res = optimize.minimize(
        crf_nll, theta0, args=(d, l2, l2_nb), jac=True, method="L-BFGS-B",
        options={"maxiter": iters, "maxcor": 20},
    )
    print(f"  L-BFGS: {res.nit} iterations, nll {res.fun:.1f}, {time.time() - t0:.0f}s", flush=True)
    w, nbs, trans, start, end = unpack(res.x, d.far)
    far = nbs[2:] if d.far else [None, None]
    return RoleModel(w, nbs[0], nbs[1], trans, start, end, 1.0, far[0], far[1])


class StackDesign:
    """What :func:`_chain` needs to score the second pass over a set of flat abstracts."""

    def __init__(
        self, model: RoleModel, docs: list[roles_corpus.Doc], weights: Sequence[float]
    ) -> None:
        texts = [d.texts() for d in docs]
        self.marg, self.base, batch = model.first_pass(texts)
        self.doc_starts = batch.doc_starts
        self.x = stack_features(self.marg, self.doc_starts)
        self.edge = batch.edge
        self.lens = np.diff(self.doc_starts)
        self.groups = length_groups(self.lens, 1024)
        self.doc_w = np.asarray(weights, dtype=np.float64)
        self.sent_w = np.repeat(self.doc_w, self.lens)
        self.y = np.array([ROLES.index(r) for d in docs for r in d.roles()], dtype=np.int64)


def fit_stack(
    model: RoleModel,
    docs: list[roles_corpus.Doc],
    reviews: list[roles_corpus.Doc],
    args: argparse.Namespace,
) -> Stack:
    """The second pass, trained on flat abstracts the first pass has not seen (the calibration
    part, and the narrative reviews held out of the first pass at their weak weight); it starts
    from the first pass (all zeros) and L2 pulls it back there."""
    l2 = args.l2_stack
    weights = [1.0] * len(docs) + [args.stack_review_weight] * len(reviews)
    d = StackDesign(model, docs + reviews, weights)
    a = N_STACK * K
    b = a + N_EDGE * K * K

    def nll(theta: Array) -> tuple[float, Array]:
        st = Stack(theta[:a], theta[a:b], theta[b : b + K], theta[b + K :])
        e2, tr, start, end = st.scores(d.marg, d.base, d.edge, d.doc_starts)
        val, g_e, g_tf, g_start, g_end = _chain(e2, tr[d.edge], start, end, d)
        g_w = d.x.T @ g_e + l2 * st.w
        g_t = by_kind(g_tf, d.edge) + l2 * st.trans
        g_se = [g_start + l2 * st.start, g_end + l2 * st.end]
        grad = np.concatenate([g_w.ravel(), g_t.ravel(), *g_se])
        return val + 0.5 * l2 * float((theta * theta).sum()), grad

    res = optimize.minimize(
        nll, np.zeros(b + 2 * K), jac=True, method="L-BFGS-B", options={"maxiter": 300}
    )
    print(f"  second pass: {res.nit} iterations, nll {res.fun:.1f}", flush=True)
    x = res.x
    return Stack(x[:a], x[a:b], x[b : b + K], x[b + K :])


def fold_of(pmid: str, k: int) -> int:
    """The out-of-fold split: by PMID, independent of ``roles_corpus.part`` (``pmid % 7``)."""
    return (int(pmid) // 7) % k


Fold = tuple[RoleModel, list[roles_corpus.Doc], list[roles_corpus.Doc]]


def fit_folds(
    docs: list[roles_corpus.Doc], reviews: list[roles_corpus.Doc], args: argparse.Namespace
) -> list[Fold]:
    """One first pass per fold, trained on the other folds: (model, held-out abstracts, held-out
    reviews) each."""
    out = []
    for f in range(args.oof):
        print(f"  fold {f + 1}/{args.oof}:", flush=True)
        tr = [d for d in docs if fold_of(d.pmid, args.oof) != f]
        rv = [d for d in reviews if fold_of(d.pmid, args.oof) != f]
        model = fit(tr, rv, args)
        held = [d for d in docs if fold_of(d.pmid, args.oof) == f]
        held_rv = [d for d in reviews if fold_of(d.pmid, args.oof) == f]
        out.append((model, held, held_rv))
    return out


class OofStackDesign:
    """:class:`StackDesign` over several first passes, each scoring the abstracts it never saw.

    The first passes' transitions differ, so they are kept per sentence, and their start / end
    scores are folded into the first / last sentence's emission (the same chain score)."""

    def __init__(self, folds: list[Fold], temperature: float, review_weight: float) -> None:
        margs, e1s, trs, xs, edges, ys, starts, ws = [], [], [], [], [], [], [], []
        base = 0
        for model, held, held_rv in folds:
            model.temperature = temperature
            docs = held + held_rv
            marg, (e, tr, st, en), batch = model.first_pass([d.texts() for d in docs])
            e = e.copy()
            e[batch.doc_starts[:-1]] += st
            e[batch.doc_starts[1:] - 1] += en
            margs.append(marg)
            e1s.append(e)
            trs.append(tr[batch.edge])
            xs.append(stack_features(marg, batch.doc_starts))
            edges.append(batch.edge)
            ys.append(np.array([ROLES.index(r) for d in docs for r in d.roles()], np.int64))
            starts.append(batch.doc_starts[1:] + base)
            ws += [1.0] * len(held) + [review_weight] * len(held_rv)
            base += batch.n
        self.marg = np.concatenate(margs)
        self.e1 = np.concatenate(e1s)
        self.tr1 = np.concatenate(trs)
        self.x = np.concatenate(xs)
        self.edge = np.concatenate(edges)
        self.y = np.concatenate(ys)
        self.doc_starts = np.concatenate([np.zeros(1, np.int64), *starts])
        self.lens = np.diff(self.doc_starts)
        self.groups = length_groups(self.lens, 1024)
        self.doc_w = np.asarray(ws, dtype=np.float64)
        self.sent_w = np.repeat(self.doc_w, self.lens)


def fit_stack_oof(d: OofStackDesign, l2: float) -> Stack:
    """The second pass on out-of-fold marginals (same objective as :func:`fit_stack`)."""
    a = N_STACK * K
    b = a + N_EDGE * K * K

    def nll(theta: Array) -> tuple[float, Array]:
        st = Stack(theta[:a], theta[a:b], theta[b : b + K], theta[b + K :])
        e2 = d.e1 + d.x @ st.w
        tr = d.tr1 + st.trans[d.edge]
        val, g_e, g_tf, g_start, g_end = _chain(e2, tr, st.start, st.end, d)
        g_w = d.x.T @ g_e + l2 * st.w
        g_t = by_kind(g_tf, d.edge) + l2 * st.trans
        g_se = [g_start + l2 * st.start, g_end + l2 * st.end]
        grad = np.concatenate([g_w.ravel(), g_t.ravel(), *g_se])
        return val + 0.5 * l2 * float((theta * theta).sum()), grad

    res = optimize.minimize(
        nll, np.zeros(b + 2 * K), jac=True, method="L-BFGS-B", options={"maxiter": 300}
    )
    print(f"  second pass (out of fold): {res.nit} iterations, nll {res.fun:.1f}", flush=True)
    x = res.x
    return Stack(x[:a], x[a:b], x[b : b + K], x[b + K :])


def fit_temperature(model: RoleModel, docs: list[roles_corpus.Doc]) -> float:
    """The temperature minimising held-out NLL of the marginals, flat and sectioned alike."""
    gold = np.array([ROLES.index(r) for doc in docs for r in doc.roles()] * 2)
    texts = [doc.texts() for doc in docs]
    batch = featurize(texts + texts, [None] * len(docs) + [doc.section_ids() for doc in docs])
    e = model.emissions(batch)
    best_t, best = 1.0, np.inf
    for t in np.arange(0.5, 3.01, 0.05):
        m = forward_backward(
            e / t, batch.edge, model.trans / t, model.start / t, model.end / t, batch.doc_starts
        )
        nll = -np.log(np.clip(m[np.arange(len(gold)), gold], 1e-12, 1)).mean()
        if nll < best:
            best_t, best = float(t), float(nll)
    return best_t


def char_accuracy(docs: list[roles_corpus.Doc], preds: list[list[Role]]) -> tuple[float, float]:
    merge = {"purpose": "background"}
    tot = ok5 = ok4 = 0
    for doc, pred in zip(docs, preds, strict=True):
        for (s, e, gold, _), p in zip(doc.sentences, pred, strict=True):
            n = e - s
            tot += n
            ok5 += n * (gold == p)
            ok4 += n * (merge.get(gold, gold) == merge.get(p, p))
    return ok4 / tot, ok5 / tot


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-save", action="store_true")
    ap.add_argument("--l2", type=float, default=1.0)
    ap.add_argument("--l2-nb", type=float, default=4.0)
    ap.add_argument(
        "--iters", "--max-iter", dest="iters", type=int, default=200,
        help="L-BFGS iterations per first-pass training",
    )
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--no-reviews", action="store_true", help="structured abstracts only")
    ap.add_argument("--review-weight", type=float, default=0.1)
    ap.add_argument("--final", action="store_true", help="retrain on train + calibration parts")
    ap.add_argument(
        "--no-far", dest="far", action="store_false",
        help="neighbour words from the adjacent sentences only (not also two away)",
    )
    ap.add_argument(
        "--no-stack", dest="stack", action="store_false", help="no second pass for flat text"
    )
    ap.add_argument("--l2-stack", type=float, default=10.0)
    ap.add_argument("--stack-review-weight", type=float, default=0.3)
    ap.add_argument("--stage1-out", type=Path, help="also save the train-part model here")
    ap.add_argument(
        "--oof", type=int, default=3, metavar="K",
        help="train the second pass on K-fold out-of-fold marginals of train + calibration parts",
    )
    ap.add_argument(
        "--temperature", type=float,
        help="with --final --oof: use this temperature instead of fitting a stage-1 model",
    )
    args = ap.parse_args()
    if args.oof == 1 or args.oof < 0:
        ap.error("--oof needs at least 2 folds")
    if args.temperature is not None and not (args.final and args.oof and args.stack):
        ap.error("--temperature only replaces the stage-1 model with --final --oof")
    docs = roles_corpus.load()
    parts: dict[str, list[roles_corpus.Doc]] = {"train": [], "calib": [], "dev": []}
    for doc in docs:
        parts[roles_corpus.part(doc.pmid)].append(doc)
    print({k: len(v) for k, v in parts.items()}, flush=True)
    reviews: list[roles_corpus.Doc] = []
    if not args.no_reviews:
        # Narrative reviews, weakly labelled: without them the model, which has only seen
        # research abstracts, forces methods and results into the middle of every review.
        reviews = [d for d in roles_corpus.load_reviews() if roles_corpus.part(d.pmid) != "dev"]
        print(f"  + {len(reviews)} weakly labelled narrative reviews", flush=True)
    held: list[roles_corpus.Doc] = []
    stage1: RoleModel | None = None
    if args.temperature is not None:
        temperature = args.temperature
    else:
        if args.stack:
            # The second pass learns from the first pass's mistakes on unseen text, reviews too.
            held = [d for d in reviews if roles_corpus.part(d.pmid) == "calib"]
            first = [d for d in reviews if roles_corpus.part(d.pmid) != "calib"]
            stage1 = fit(parts["train"], first, args)
        else:
            stage1 = fit(parts["train"], reviews, args)
        stage1.temperature = temperature = fit_temperature(stage1, parts["calib"])
        print(f"  temperature {temperature:.2f} (fitted on the calibration part)")
        report(stage1, parts, ("calib", "dev"))
        if args.stage1_out:
            stage1.save(args.stage1_out)
    stack: Stack | None = None
    if args.stack and args.oof:
        folds = fit_folds(parts["train"] + parts["calib"], reviews, args)
        design = OofStackDesign(folds, temperature, args.stack_review_weight)
        del folds
        stack = fit_stack_oof(design, args.l2_stack)
    elif args.stack and stage1 is not None:
        stack = fit_stack(stage1, parts["calib"], held, args)
    if stage1 is not None and stack is not None:
        stage1.stack = stack
        report(stage1, parts, ("dev",))
    if args.final:
        # The calibration part has done its job; train once more with it, keeping the
        # temperature (dev stays unseen, so its figures remain honest).
        model = fit(parts["train"] + parts["calib"], reviews, args)
        model.temperature, model.stack = temperature, stack
        report(model, parts, ("dev",))
    else:
        assert stage1 is not None
        model = stage1
    if not args.no_save:
        model.save(args.out)
        print(f"  wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")


def fit(
    tr: list[roles_corpus.Doc], reviews: list[roles_corpus.Doc], args: argparse.Namespace
) -> RoleModel:
    # Every training abstract twice: read flat (what unstructured text looks like) and with its
    # section boundaries but no labels (what UNASSIGNED / label-only sections look like).
    texts = [d.texts() for d in tr] * 2 + [d.texts() for d in reviews]
    labels = [d.roles() for d in tr] * 2 + [d.roles() for d in reviews]
    secs: list[list[int] | None] = [None] * len(tr) + [d.section_ids() for d in tr]
    secs += [None] * len(reviews)
    # Weak labels weigh less than NLM's: they should shape reviews, not research abstracts.
    weights = [1.0] * len(tr) * 2 + [args.review_weight] * len(reviews)
    print(f"  training on {len(tr)} abstracts (x2) + {len(reviews)} reviews", flush=True)
    design = Design(texts, labels, secs, weights, far=args.far)
    return train(design, args.l2, args.l2_nb, args.iters)


def report(
    model: RoleModel, parts: dict[str, list[roles_corpus.Doc]], names: tuple[str, ...]
) -> None:
    for name in names:
        docs_p = parts[name]
        for mode in ("flat", "sections"):
            sx = [d.section_ids() for d in docs_p] if mode == "sections" else None
            got = model.predict_many([d.texts() for d in docs_p], sections=sx)
            acc4, acc5 = char_accuracy(docs_p, [[r for r, _ in p] for p in got])
            print(f"  {name} {mode}: char accuracy 4 roles {acc4:.4f}, 5 roles {acc5:.4f}")


if __name__ == "__main__":
    main()
