"""Sentence roles and summaries, as a user of ``annotate`` sees them."""

from __future__ import annotations

import dataclasses
import itertools
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cytoreview import roles, roles_model
from cytoreview.model import ROLES, Article, Section, Summary

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "seeds" / "roles_reference.json"

BACKGROUND = "Sepsis is a leading cause of death in intensive care units worldwide."
OBJECTIVE = "To evaluate whether early vasopressin reduces mortality in septic shock."
METHODS = (
    "In this multicentre trial, 409 adult patients were randomized to vasopressin or "
    "norepinephrine and followed for 28 days."
)
RESULTS = (
    "Mortality at 28 days was 30.9% with vasopressin and 27.5% with norepinephrine "
    "(difference 3.4 percentage points; 95% CI -5.4 to 12.3; P = 0.41)."
)
CONCLUSIONS = (
    "In conclusion, early vasopressin did not improve survival compared with norepinephrine."
)


def structured(
    categories: Sequence[str | None], labels: Sequence[str | None] | None = None
) -> Article:
    texts = [BACKGROUND, OBJECTIVE, METHODS, RESULTS, CONCLUSIONS]
    labels = labels or [c for c in categories]
    sections, pos = [], 0
    for text, cat, label in zip(texts, categories, labels, strict=True):
        sections.append(Section(label, cat, text, pos, pos + len(text)))
        pos += len(text) + 1
    return Article(pmid="1", title="t", abstract=" ".join(texts), sections=tuple(sections))


def roles_of(article: Article) -> list[str]:
    return [s.role for s in article.sentences]


def test_nlm_categories_map_one_to_one_with_full_confidence() -> None:
    cats = ["BACKGROUND", "OBJECTIVE", "METHODS", "RESULTS", "CONCLUSIONS"]
    art = roles.annotate(structured(cats))
    assert roles_of(art) == list(ROLES)
    assert all(s.source == "nlm" and s.confidence == 1.0 for s in art.sentences)
    assert [s.label for s in art.sentences] == cats
    assert art.summary.source == "nlm"
    assert art.summary.purpose == OBJECTIVE
    assert art.summary.conclusions == CONCLUSIONS


def test_unassigned_and_label_only_sections_are_predicted_in_context() -> None:
    cats: list[str | None] = ["BACKGROUND", "UNASSIGNED", "METHODS", None, "CONCLUSIONS"]
    labels = ["BACKGROUND", "AIM", "METHODS", "FINDINGS", "CONCLUSIONS"]
    art = roles.annotate(structured(cats, labels))
    by_source = {s.label: s for s in art.sentences}
    assert by_source["AIM"].source == "model"
    assert by_source["FINDINGS"].source == "model"
    assert by_source["AIM"].role == "purpose"
    assert by_source["FINDINGS"].role == "findings"
    assert 0.0 <= by_source["AIM"].confidence <= 1.0
    assert by_source["BACKGROUND"].source == "nlm"
    assert art.summary.source == "mixed"


def test_sentences_stay_inside_their_section_and_cover_the_abstract() -> None:
    # A section that does not end with a period must still end its sentence.
    text = "Aim: unclear text without a stop Patients were enrolled. They improved."
    secs = (Section("AIM", None, text[:32], 0, 32), Section(None, None, text[33:], 33, len(text)))
    art = roles.annotate(Article(pmid="1", title="t", abstract=text, sections=secs))
    spans = [(s.start, s.end) for s in art.sentences]
    assert spans[0] == (0, 32)
    assert all(not (s < 32 < e) for s, e in spans)
    covered = "".join(text[s:e] for s, e in spans)
    assert covered.replace(" ", "") == text.replace(" ", "")


def test_unstructured_abstract_gets_sensible_roles() -> None:
    text = " ".join([BACKGROUND, OBJECTIVE, METHODS, RESULTS, CONCLUSIONS])
    art = roles.annotate(Article(pmid="2", title="t", abstract=text))
    got = roles_of(art)
    assert got[0] == "background"
    assert got[1] == "purpose"
    assert got[2] == "methods"
    assert got[3] == "findings"
    assert got[4] == "conclusions"
    assert all(s.source == "model" for s in art.sentences)
    assert all(0.0 <= s.confidence <= 1.0 for s in art.sentences)
    assert art.summary.source == "model"
    assert art.summary.key_findings == RESULTS


def test_empty_abstract_has_no_sentences_and_an_empty_summary() -> None:
    art = roles.annotate(Article(pmid="3", title="t"))
    assert art.sentences == ()
    assert art.summary.source == "none"
    assert art.summary.purpose == art.summary.findings == art.summary.conclusions == ""
    # Roles left from an earlier abstract do not survive its removal.
    stale = roles.annotate(Article(pmid="3", title="t", abstract=RESULTS))
    cleared = roles.annotate_many([dataclasses.replace(stale, abstract="")])[0]
    assert stale.sentences and cleared.sentences == () and cleared.summary.source == "none"


def test_review_purpose_sentence_is_the_key_purpose_even_when_last() -> None:
    text = (
        "Interleukin-2 activates T cells and natural killer cells. High-dose regimens are toxic. "
        "Several trials combined interleukin-2 with vaccines. This article reviews the current "
        "status of interleukin-2-based immunotherapy."
    )
    art = roles.annotate(Article(pmid="4", title="t", abstract=text))
    assert art.summary.key_purpose.startswith("This article reviews")
    assert art.sentences[-1].role == "purpose"


def test_a_study_that_provides_evidence_is_a_finding_not_the_key_purpose() -> None:
    from cytoreview.roles_cues import states_purpose as _states_purpose

    assert _states_purpose("This review provides an overview of IL-2 therapy.")
    assert _states_purpose("The present study examines IL-2 toxicity.")
    assert _states_purpose("Our study investigates IL-2 toxicity.")
    assert not _states_purpose("This study provides evidence that IL-2 is toxic.")
    assert not _states_purpose("In conclusion, our work provides a basis for dosing.")


def test_key_finding_is_the_sentence_richest_in_results() -> None:
    text = (
        "We studied statins. Patients were enrolled. Statins were well tolerated. "
        "LDL fell by 38% (95% CI 30-46; p < 0.001) compared with placebo. "
        "Statins lower LDL."
    )
    secs_text = [
        ("OBJECTIVE", "We studied statins."), ("METHODS", "Patients were enrolled."),
        ("RESULTS", "Statins were well tolerated. LDL fell by 38% (95% CI 30-46; p < 0.001) "
                    "compared with placebo."),
        ("CONCLUSIONS", "Statins lower LDL."),
    ]
    sections, pos = [], 0
    for cat, t in secs_text:
        sections.append(Section(cat, cat, t, pos, pos + len(t)))
        pos += len(t) + 1
    art = roles.annotate(Article(pmid="5", title="t", abstract=text, sections=tuple(sections)))
    assert art.summary.key_findings.startswith("LDL fell by 38%")
    assert art.summary.findings.startswith("Statins were well tolerated.")


def test_to_dict_carries_sentences_with_offsets_into_the_abstract() -> None:
    art = roles.annotate(structured(["BACKGROUND", None, None, None, None]))
    record = art.to_dict()
    for s in record["sentences"]:
        assert s["role"] in ROLES
        assert record["abstract"][s["start"] : s["end"]].strip() != ""


def test_model_confidences_are_rounded_to_four_places_in_records_and_json() -> None:
    art = roles.annotate(structured(["BACKGROUND", None, None, None, None]))
    predicted = [s for s in art.sentences if s.source == "model"]
    assert predicted and all(0.0 < s.confidence <= 1.0 for s in predicted)
    assert all(s.confidence == round(s.confidence, 4) for s in predicted)
    written = [s["confidence"] for s in json.loads(art.to_json())["sentences"]]
    assert all(len(repr(c).partition(".")[2]) <= 4 for c in written)


def test_key_purpose_goes_to_the_more_confident_sentence_even_when_rounding_ties_them() -> None:
    from cytoreview.model import Sentence
    from cytoreview.roles_summary import build_summary

    text = "We studied sleep in hospital. We assessed new sleep medications."
    cut = text.index(" We")
    unrounded = [0.620245, 0.620247]  # both 0.6202 at four places
    sentences = (
        Sentence(0, cut, "purpose", round(unrounded[0], 4), "model"),
        Sentence(cut + 1, len(text), "purpose", round(unrounded[1], 4), "model"),
    )
    article = Article(pmid="1", title="t", abstract=text)
    assert build_summary(article, sentences, unrounded).key_purpose == text[cut + 1 :]
    # Without the unrounded values the tie goes to the earlier sentence.
    assert build_summary(article, sentences).key_purpose == text[:cut]


def test_shipped_model_is_used_and_predict_matches_annotate() -> None:
    assert roles.using_model(), "the trained model file should ship with the package"
    sentences = [BACKGROUND, OBJECTIVE, METHODS, RESULTS, CONCLUSIONS]
    assert [r for r, _ in roles.predict(sentences)] == list(ROLES)


def test_annotate_many_gives_the_same_articles_as_annotate() -> None:
    cats: list[str | None] = ["BACKGROUND", "UNASSIGNED", "METHODS", None, "CONCLUSIONS"]
    arts = [
        structured(cats),
        Article(pmid="7", title="t"),
        Article(pmid="8", title="t", abstract=" ".join([BACKGROUND, METHODS, RESULTS])),
        structured(["BACKGROUND", "OBJECTIVE", "METHODS", "RESULTS", "CONCLUSIONS"]),
    ]
    many = roles.annotate_many(arts)
    for one, batch in zip([roles.annotate(a) for a in arts], many, strict=True):
        assert [(s.start, s.end, s.role, s.source) for s in one.sentences] == [
            (s.start, s.end, s.role, s.source) for s in batch.sentences
        ]
        assert [s.confidence for s in one.sentences] == pytest.approx(
            [s.confidence for s in batch.sentences]
        )
        assert one.summary == batch.summary


def test_baseline_stands_in_when_the_model_file_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(roles_model, "load_default", lambda: None)
    monkeypatch.setattr(roles, "_cache", {})
    assert not roles.using_model()
    art = roles.annotate(Article(pmid="6", title="t", abstract=f"{BACKGROUND} {CONCLUSIONS}"))
    assert roles_of(art) == ["background", "conclusions"]


def test_model_is_not_loaded_at_import() -> None:
    code = (
        "import sys, cytoreview.roles as r; "
        "print(len(r._cache), 'cytoreview.roles_model' in sys.modules, 'numpy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "False", "False"]


def seed_score() -> tuple[float, list[str]]:
    ref = json.loads(REFERENCE.read_text(encoding="utf-8"))
    ok = total = 0
    wrong = []
    for seed in ref["seeds"]:
        text = seed["abstract"]
        art = roles.annotate(Article(pmid="0", title="t", abstract=text))
        pos = 0
        for sent in seed["sentences"]:
            start = text.index(sent["text"], pos)
            end = pos = start + len(sent["text"])
            for s in art.sentences:
                overlap = min(end, s.end) - max(start, s.start)
                if overlap > 0:
                    total += overlap
                    if s.role in sent["roles"]:
                        ok += overlap
                    else:
                        wrong.append(f"{seed['file']}: {s.role} for {sent['text'][:60]!r}")
    return ok / total, wrong


def test_seed_reviews_match_the_hand_made_reference() -> None:
    score, wrong = seed_score()
    assert score >= 0.95, "\n".join(wrong)


def test_seed_reference_sentences_are_the_splitter_sentences() -> None:
    from cytoreview.sentences import split_text

    ref = json.loads(REFERENCE.read_text(encoding="utf-8"))
    for seed in ref["seeds"]:
        assert split_text(seed["abstract"]) == [s["text"] for s in seed["sentences"]]
        for s in seed["sentences"]:
            assert set(s["roles"]) <= set(ROLES)



def test_model_file_round_trips_with_every_table(tmp_path: Path) -> None:
    import numpy as np

    model = roles_model.load_default()
    assert model is not None
    path = tmp_path / "m.npz"
    model.save(path)
    again = roles_model.RoleModel.load(path)
    abstracts = [
        [BACKGROUND, OBJECTIVE, METHODS, RESULTS, CONCLUSIONS],
        [METHODS, RESULTS],
        [CONCLUSIONS],
    ]
    assert again.predict_many(abstracts) == model.predict_many(abstracts)
    shipped = roles_model.resources.files("cytoreview") / "data" / roles_model.MODEL_FILE
    with np.load(path) as saved, np.load(str(shipped)) as orig:
        assert sorted(saved.files) == sorted(orig.files)


def _dense_emissions(model: roles_model.RoleModel, batch: roles_model.Batch) -> object:
    """The model's emission scores as its docstring defines them, one sentence at a time."""
    import numpy as np

    from cytoreview.roles_features import HASH_BITS

    k = len(ROLES)
    own = np.array([model.w_self[ids + (1 << HASH_BITS)].sum(axis=0) for ids in batch.pos_ids],
                   dtype=np.float64).reshape(batch.n, k)
    tables = [model.w_prev, model.w_next, model.w_prev2, model.w_next2]
    words = np.zeros((len(tables), batch.n, k))
    for sent, bucket in zip(batch.feat_sent.tolist(), batch.feat_bucket.tolist(), strict=True):
        own[sent] += model.w_self[bucket]
        for t, table in enumerate(tables):
            words[t, sent] += table[bucket & model.nb_mask]
    doc = np.repeat(np.arange(len(batch.doc_starts) - 1), np.diff(batch.doc_starts))
    scores = own.copy()
    for i in range(batch.n):
        for t, step in enumerate((1, -1, 2, -2)):  # the sentence before, after, two before...
            j = i - step
            if 0 <= j < batch.n and doc[j] == doc[i]:
                scores[i] += words[t, j]
    return scores


def test_every_sentence_scores_all_its_features_even_next_to_sentences_without_words() -> None:
    import numpy as np

    from cytoreview.roles_features import featurize

    model = roles_model.load_default()
    assert model is not None and model.far
    batches = [
        [[BACKGROUND, METHODS, "."]],  # a batch that ends on a sentence without a word
        [[OBJECTIVE, RESULTS, "", "..."]],
        [[CONCLUSIONS], ["", ""]],
        [["", METHODS], [RESULTS, "—", CONCLUSIONS]],
        [["", ".", "?"]],
    ]
    for abstracts in batches:
        batch = featurize(abstracts)
        got = model.emissions(batch)
        assert np.allclose(got, _dense_emissions(model, batch), atol=1e-4), abstracts
    # An abstract's roles and confidences do not depend on what else is in its batch.
    alone = model.predict_many([[BACKGROUND, METHODS, RESULTS]])[0]
    together = model.predict_many([[BACKGROUND, METHODS, RESULTS], ["."]])[0]
    assert [r for r, _ in together] == [r for r, _ in alone]
    assert [c for _, c in together] == pytest.approx([c for _, c in alone], abs=1e-9)
    assert model.emissions(featurize([])).shape == (0, len(ROLES))


def test_statistics_marks_follow_each_sentence_even_where_lowercasing_lengthens_text() -> None:
    from cytoreview.roles_features import featurize

    # "İ".lower() is two characters: offsets into the lowercased batch drift from the
    # sentences' own, and a "%" three of them in would land in the next sentence.
    for abstracts in (
        [["Rates were 5%.", "No symbol here.", "p < 0.05 and ± 2"], ["none", "x ≥ 3"]],
        [["İİİ 40%", "no symbol here"], ["İ", "fine ="]],
    ):
        sentences = [s for doc in abstracts for s in doc]
        expected = [bool(roles_model.STATS.search(s)) for s in sentences]
        assert featurize(abstracts).stats.tolist() == expected


def test_cue_phrases_mark_exactly_the_sentences_that_contain_them() -> None:
    from cytoreview import roles_features as rf

    abstracts = [
        ["This review summarizes IL-2 therapy.", "Cells grew.", "In conclusion, it works."],
        ["We aimed to test it.", "These results suggest a role.", "Aim of nothing, this revue."],
    ]
    batch = rf.featurize(abstracts)
    cues = batch.pos_ids[:, -2:] - rf._OFF_CUE
    purpose_hit = (cues[:, 0] // 3).tolist()
    conclusion_hit = ((cues[:, 1] - 6) // 3).tolist()
    assert purpose_hit == [1, 0, 0, 1, 0, 1]  # "this review", "we aimed", "aim of"
    assert conclusion_hit == [0, 0, 1, 0, 1, 0]  # "in conclusion", "these results"


def test_second_pass_features_of_an_abstract_ignore_the_rest_of_the_batch() -> None:
    import numpy as np

    rng = np.random.default_rng(7)
    lens = [3, 1, 0, 5, 2]
    marg = rng.dirichlet(np.ones(len(ROLES)), size=sum(lens))
    starts = np.concatenate(([0], np.cumsum(lens))).astype(np.int64)
    together = roles_model.stack_features(marg, starts)
    for a, b in itertools.pairwise(starts.tolist()):
        alone = roles_model.stack_features(marg[a:b], np.array([0, b - a], dtype=np.int64))
        assert np.allclose(together[a:b], alone)



def test_second_pass_refines_flat_text_and_leaves_sectioned_text_alone() -> None:
    model = roles_model.load_default()
    assert model is not None and model.stack is not None, "the shipped model has a second pass"
    sents = [BACKGROUND, OBJECTIVE, METHODS, RESULTS, CONCLUSIONS]
    flat = model.predict(sents)
    sectioned = model.predict(sents, sections=[0, 1, 2, 3, 4])
    model.stack = None
    assert model.predict(sents, sections=[0, 1, 2, 3, 4]) == sectioned
    assert [c for _, c in model.predict(sents)] != [c for _, c in flat]


def test_out_of_fold_second_pass_has_the_single_model_objective() -> None:
    """scripts/train_roles.py --oof: with one fold it is the calibration-part second pass."""
    import argparse

    import numpy as np

    pytest.importorskip("scipy")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    import roles_corpus
    import train_roles

    texts = [BACKGROUND, OBJECTIVE, METHODS, RESULTS, CONCLUSIONS]
    roles5 = ["background", "purpose", "methods", "findings", "conclusions"]

    def doc(pmid: int, keep: Sequence[int]) -> roles_corpus.Doc:
        parts = [texts[i] for i in keep]
        abstract = " ".join(parts)
        sents, pos = [], 0
        for k, i in enumerate(keep):
            sents.append((pos, pos + len(texts[i]), roles5[i], k))
            pos += len(texts[i]) + 1
        return roles_corpus.Doc(str(pmid), abstract, tuple(sents))  # type: ignore[arg-type]

    docs = [doc(7 * p, keep) for p, keep in enumerate([[0, 1, 2, 3, 4], [1, 2, 3], [0, 3, 4]] * 4)]
    assert {train_roles.fold_of(d.pmid, 3) for d in docs} == {0, 1, 2}
    args = argparse.Namespace(
        iters=5, far=True, l2=1.0, l2_nb=4.0, review_weight=0.1, stack_review_weight=0.3,
        l2_stack=30.0,
    )
    model = train_roles.fit(docs[:6], [], args)
    model.temperature = 1.3
    one = train_roles.fit_stack(model, docs[6:10], docs[10:], args)
    design = train_roles.OofStackDesign([(model, docs[6:10], docs[10:])], 1.3, 0.3)
    oof = train_roles.fit_stack_oof(design, 30.0)
    assert np.allclose(one.w, oof.w, atol=1e-8) and np.allclose(one.trans, oof.trans, atol=1e-8)
    assert np.abs(one.w).max() > 0


_CUE_WORDS = (
    "this", "This", "THIS", "the", "The", "present", "current", "our", "Our", "article", "review",
    "reviews", "reviewed", "study", "studies", "we", "We", "aimed", "aim", "aims", "to", "To", "of",
    "in", "In", "here", "Here", "herein", "is", "are", "were", "discussed", "summarized",
    "summarised", "highlighted", "described", "authors", "purpose", "Objective", "objectives",
    "goal", "investigate", "set", "out", "sought", "main", "overall", "was", "examines",
    "ourselves",
    "presently", "IL-2", "(", ")", ",", ".", ":", "5", "\u00e9t\u00e9", "K\u212a",
    # Non-ASCII text is asked in an ASCII stand-in: the letters IGNORECASE folds to ASCII
    # ones, other letters, digits and signs.
    "\u0130n", "th\u0131s", "\u017ftudy", "revi\u00e9ws", "\u00e9", "\u00b1", "\u2013",
    "\u2019s", "\u0661", "\u00b2", "_",
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_CUE_WORDS), st.sampled_from([" ", " ", "", "-", ", "])),
                max_size=12))
@example([("Our", " "), ("study", " "), ("examines", " ")])
@example([("the", " "), ("present", " "), ("article", " "), ("reviews", "")])
def test_purpose_cue_shortcut_agrees_with_the_documented_pattern(
    words: list[tuple[str, str]],
) -> None:
    from cytoreview.roles_baseline import PURPOSE_CUE
    from cytoreview.roles_cues import states_purpose as _states_purpose

    text = "".join(w + sep for w, sep in words).strip()
    assert _states_purpose(text) == bool(PURPOSE_CUE.search(text)), text


def test_purpose_cue_shortcut_agrees_on_every_real_sentence() -> None:
    from cytoreview.localfiles import iter_file
    from cytoreview.roles_baseline import PURPOSE_CUE
    from cytoreview.roles_cues import states_purpose as _states_purpose
    from cytoreview.sentences import split_text

    fixtures = Path(__file__).parent / "fixtures" / "xml"
    abstracts = [a.abstract for f in ("pubmed20n0014_cases.xml", "pubmed21n1298_cases.xml")
                 for a in iter_file(str(fixtures / f))]
    abstracts += [seed["abstract"] for seed in json.loads(REFERENCE.read_text())["seeds"]]
    sentences = [s for text in abstracts for s in split_text(text)]
    assert sum(map(_states_purpose, sentences)) > 5
    for s in sentences:
        assert _states_purpose(s) == bool(PURPOSE_CUE.search(s)), s


def _results_score_reference(text: str) -> float:
    """The rule as documented, written plainly: what results_score must compute."""
    import re

    from cytoreview import roles_summary as rs

    low = text.lower()
    words = [w.strip(rs._PUNCT) for w in low.split()]
    numbers = min(len(re.findall(r"\d+(?:[.,]\d+)?", text)), 8)
    marks = sum(mark in low for mark in rs._STAT_MARKS)
    # "p < 0.05", "r = 0.8": the letter on its own, not the end of "group" or "Mr"; at most 2.
    marks += min(len(re.findall(r"(?<![a-z0-9])[pr] ?[<=>≤]", low)), 2)
    # Abbreviations only in capitals ("OR", not the word "or").
    capitals = sum(w.strip(rs._PUNCT) in {"OR", "HR", "RR", "CI", "SD", "AUC", "IQR", "aOR", "aHR"}
                   for w in text.split())
    stats = min(marks + capitals + sum(w in rs._STAT_WORDS for w in words), 4)
    comparisons = min(sum(w in rs._COMPARISON_WORDS for w in words), 4)
    return 2.0 * stats + 0.5 * numbers + comparisons + (1 if "%" in text else 0)


_SCORE_WORDS = (
    "p", "P", "<", "=", ">", "≤", "±", "95%", "95", "%", "CI", "ci)", "(OR", "HR,", "odds",
    "hazard", "ratio", "relative", "risk", "r", "AUC", "mean", "higher", "lower", "than",
    "significantly", "vs.", "compared", "confidence", "interval", "0.05", "1,2", "12", "[3-5]",
    "IL-2", "non-significant", "é", ";", "or", "Or", "group", "Mr", "Caucasian", "aOR",
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_SCORE_WORDS), st.sampled_from([" ", "", " ", ", "])),
                max_size=20))
@example([("p", " "), ("≤", " "), ("0.05", "")])
@example([("95", " "), ("%", " "), ("CI", "")])
def test_results_score_follows_the_documented_rule(words: list[tuple[str, str]]) -> None:
    text = "".join(w + sep for w, sep in words)
    assert roles.results_score(text) == _results_score_reference(text), text


def test_everyday_words_are_not_statistics() -> None:
    # "or" scored as an odds ratio picked "... either loperamide or diphenoxylate ..." (PMID
    # 411912) over a sentence with numbers in 1,191 abstracts of the shared files.
    plain = roles.results_score("Patients received drug A or drug B or placebo.")
    numbers = roles.results_score("Tumours were larger in 20 of 30 patients (67%).")
    assert plain < numbers
    assert roles.results_score("Caucasian patients in group < 5 and Mr = 3 were seen.") == 1.0
    assert roles.results_score("The OR was 2.1 (p < 0.01).") > numbers


def test_an_inline_heading_is_never_a_key_sentence() -> None:
    # J Neural Eng writes "Objective. ... Approach. ... Main results. ... Significance. ...".
    text = ("Objective. We aimed to decode speech from cortical signals. Approach. Ten patients "
            "were recorded. Main results. Accuracy was 85% (p < 0.001). Significance. Speech "
            "can be decoded.")
    article = roles.annotate(Article(pmid="1", title="", abstract=text))
    summary = article.summary
    assert summary.key_purpose == "We aimed to decode speech from cortical signals."
    keys = (summary.key_purpose, summary.key_findings, summary.key_conclusions)
    assert not any(k.rstrip(".") in ("Objective", "Approach", "Main results", "Significance")
                   for k in keys)


def _damaged_models(good: bytes) -> dict[str, bytes]:
    import io

    import numpy as np

    with np.load(io.BytesIO(good)) as z:
        arrays = {name: z[name] for name in z.files}
    arrays["trans"] = np.full_like(arrays["trans"], np.nan)
    nan = io.BytesIO()
    np.savez_compressed(nan, **arrays)
    middle = len(good) // 2
    return {
        "truncated": good[: len(good) // 2],
        "zeroed": good[:middle] + bytes(100) + good[middle + 100:],
        "empty": b"",
        "nan-weights": nan.getvalue(),
    }


_SHIPPED = Path(roles_model.__file__).parent / "data" / roles_model.MODEL_FILE


@pytest.mark.skipif(not _SHIPPED.is_file(), reason="no model file in this checkout")
@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize("damage", ["truncated", "zeroed", "empty", "nan-weights"])
def test_a_damaged_model_file_is_reported_and_the_baseline_stands_in(
        damage: str, jobs: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cytoreview.errors import CytoreviewWarning

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / roles_model.MODEL_FILE).write_bytes(
        _damaged_models(_SHIPPED.read_bytes())[damage])
    # A subprocess: the model is loaded once per process, and the warning is printed by the
    # command line's entry point, as a user would see it: once, also with worker processes.
    xml = Path(__file__).parent / "fixtures" / "xml"
    files = [REFERENCE.parent / "seeds.xml", xml / "pubmed20n0014_cases.xml",
             xml / "pubmed21n1298_cases.xml"]
    script = (
        "import sys, pathlib\n"
        "from importlib import resources\n"
        "from cytoreview import cli\n"
        f"resources.files = lambda package: pathlib.Path({str(tmp_path)!r})\n"
        f"sys.argv = ['cytoreview', 'parse', *{[str(f) for f in files]!r}, '-f', 'json', "
        f"'--jobs', {jobs!r}]\n"
        "cli.main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    (line,) = [x for x in proc.stderr.splitlines() if x.strip()]
    assert line.startswith("cytoreview: warning: the role model ")
    assert "cue-phrase baseline" in line
    records = json.loads(proc.stdout)
    assert all(s["confidence"] is not None for r in records for s in r["sentences"])
    from cytoreview import procs

    monkeypatch.setattr(roles_model.resources, "files", lambda package: tmp_path)
    monkeypatch.setattr(procs, "_SAY_ONCE", procs._token())  # this process has said it already
    with pytest.warns(CytoreviewWarning):
        assert roles_model.load_default() is None


def test_say_once_survives_its_pipe_being_closed_and_reused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A daemonising caller closes every descriptor; the number may come back as a file of its
    # own, which must not be read from.
    import os

    from cytoreview import procs

    token = procs._token()
    assert token is not None
    os.close(token[0])
    other = tmp_path / "theirs.txt"
    other.write_bytes(b"their data")
    fd = os.open(other, os.O_RDONLY)
    try:
        monkeypatch.setattr(procs, "_SAY_ONCE", (fd, token[1]))
        monkeypatch.setattr(procs, "_said_here", False)
        assert procs.say_once() is True
        assert procs.say_once() is False
        assert os.read(fd, 100) == b"their data"  # not a byte taken
    finally:
        os.close(fd)


def _summary_of(parts: list[tuple[str, str, str]], types: tuple[str, ...] = ()) -> Summary:
    """The summary of an abstract made of (sentence, role, source) parts, as build_summary
    sees it."""
    from cytoreview.model import Sentence
    from cytoreview.roles_summary import build_summary

    text, sentences = "", []
    for sentence, role, source in parts:
        start = len(text) + (1 if text else 0)
        text = f"{text} {sentence}" if text else sentence
        confidence = 1.0 if source == "nlm" else 0.8
        sentences.append(Sentence(start, len(text), role, confidence, source))  # type: ignore[arg-type]
    article = Article(pmid="1", title="t", abstract=text, publication_types=types)
    return build_summary(article, tuple(sentences))


# Key-sentence rules from a review of 105 abstracts (80 unstructured); each case is one the
# rule before got wrong, worded after the record it came from.
@pytest.mark.parametrize(
    ("parts", "field", "expected"),
    [
        # The aim closing an NLM Background section, with no Objective section (754 records).
        ([("Racial disparities persist in cancer care.", "background", "nlm"),
          ("The purpose of this study was to develop and validate RACER.", "background", "nlm"),
          ("We enrolled 300 patients.", "methods", "nlm"),
          ("RACER predicted outcomes well.", "findings", "nlm")],
         "key_purpose", "The purpose of this study was to develop and validate RACER."),
        # A case report's opening, which the model reads as methods.
        ([("Warts are common in children.", "background", "model"),
          ("We present the case of a 20-month-old boy with giant warts.", "methods", "model"),
          ("He was treated with imiquimod.", "methods", "model")],
         "key_purpose", "We present the case of a 20-month-old boy with giant warts."),
        # "In the present study, we ..." states the aim, even read as methods.
        ([("Gut flora shapes immunity.", "background", "model"),
          ("In the present study, we assessed flora after antibiotics.", "methods", "model"),
          ("Diversity fell by 40%.", "findings", "model")],
         "key_purpose", "In the present study, we assessed flora after antibiotics."),
        # "Theoretical and practical implications are discussed" concludes, it states no aim.
        ([("Burnout is common among nurses.", "background", "model"),
          ("Theoretical and practical implications are discussed.", "background", "model")],
         "key_purpose", ""),
        # "contrast-enhanced" is no result ("enhanced" counted as one).
        ([("We aimed to map lesions.", "purpose", "model"),
          ("Contrast-enhanced MRI is widely used in the clinic.", "background", "model")],
         "key_findings", ""),
        # Equally confident Objective sentences: the one that reads like research.
        ([("Luminal, HER2-negative breast cancer is the most common subtype.", "purpose", "nlm"),
          ("Outcomes of two regimens were compared.", "purpose", "nlm"),
          ("Survival was longer with A (p = 0.01).", "findings", "nlm")],
         "key_purpose", "Outcomes of two regimens were compared."),
        # "Purpose:" followed by background is a weaker cue than a stated aim.
        ([("Purpose: Sarcopenia is a major disease of the elderly.", "purpose", "model"),
          ("We aimed to evaluate grip strength after surgery.", "purpose", "model")],
         "key_purpose", "We aimed to evaluate grip strength after surgery."),
        # A conclusion's wording is no aim.
        ([("Diabetes is common.", "background", "model"),
          ("This study highlights the importance of early screening.", "conclusions", "model")],
         "key_purpose", ""),
        # No sentence read as findings: the result after the aim, read as background.
        ([("We aimed to test bufotenine in rats.", "purpose", "model"),
          ("Bufotenine significantly inhibited paw swelling (p < 0.01).", "background", "model"),
          ("Bufotenine may treat inflammation.", "conclusions", "model")],
         "key_findings", "Bufotenine significantly inhibited paw swelling (p < 0.01)."),
        # A sentence describing the sample comes after a result, whatever its numbers.
        ([("The median age of the children was 7.0 years, and 51.79% of them were boys.",
           "findings", "model"),
          ("Mortality fell from 12% to 5%.", "findings", "model")],
         "key_findings", "Mortality fell from 12% to 5%."),
        # "Further studies are needed" is not the take-home message.
        ([("The adjusted prevalence was not higher in women with implants.", "conclusions",
           "model"),
          ("Further studies are needed to prove an association.", "conclusions", "model")],
         "key_conclusions", "The adjusted prevalence was not higher in women with implants."),
        # Limitations and copyright lines are no conclusion.
        ([("Limited sample size.", "conclusions", "model"),
          ("Endovascular therapy may be effective for carotid injury.", "conclusions", "model")],
         "key_conclusions", "Endovascular therapy may be effective for carotid injury."),
        ([("Stress rose in 2020.", "findings", "model"),
          ("(PsycInfo Database Record (c) 2021 APA, all rights reserved).", "conclusions",
           "model")],
         "key_conclusions", ""),
    ],
    ids=["aim-in-nlm-background", "case-report-read-as-methods", "in-the-present-study",
         "implications-discussed", "no-result-in-a-hyphenated-word",
         "objective-tie", "weak-heading-cue", "conclusion-idiom", "findings-read-as-background",
         "sample-description", "further-studies", "limitations", "copyright"],
)
def test_key_sentences_follow_the_documented_rules(
        parts: list[tuple[str, str, str]], field: str, expected: str) -> None:
    assert getattr(_summary_of(parts), field) == expected


def test_a_narrative_review_gets_no_stand_in_finding() -> None:
    # 42 reviews took a background claim as their key finding.
    parts = [("This review summarizes IL-2 therapy.", "purpose", "model"),
             ("High-dose IL-2 significantly improved survival in early trials.", "background",
              "model")]
    assert _summary_of(parts, ("Journal Article", "Review")).key_findings == ""
    assert _summary_of(parts, ("Review", "Meta-Analysis")).key_findings == parts[1][0]


@pytest.mark.timeout(30)
def test_a_conclusion_full_of_citations_without_a_year_stays_linear() -> None:
    # "et al." followed by no year rescanned the rest of the text from each one: 400 kB of
    # it took 23 s, a 1 MB conclusion minutes.
    from cytoreview.roles_cues import not_a_conclusion

    text = "As shown by Smith et al. and " * 35_000 + "this is the conclusion."
    assert not not_a_conclusion(text)
    assert not_a_conclusion("As reported by Smith et al. 2019, IL-2 works.")
