"""The inverted index against a brute-force BM25 written straight from docs/memory.md."""

from __future__ import annotations

import itertools
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from hive_core.memory import _index, tokenize
from hive_core.memory._index import InvertedIndex, search

Doc = tuple[str, ...]  # namespace + (key,)

WORDS = ["alpha", "beta", "gamma", "delta", "the", "of", "a", "x1"]


def brute_force(
    docs: dict[Doc, str], query: str, limit: int
) -> tuple[dict[Doc, float], list[tuple[float, Doc]]]:
    """All positive scores and the expected ranking, computed the slow obvious way."""
    if limit <= 0 or not docs:
        return {}, []
    tokens = {doc: tokenize(text) for doc, text in docs.items()}
    n = len(docs)
    avgdl = max(sum(len(t) for t in tokens.values()) / n, 1e-9)
    scores: dict[Doc, float] = {}
    for term in tokenize(query):  # a repeated query term is added again
        df = sum(1 for t in tokens.values() if term in t)
        if df == 0:
            continue
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        for doc, toks in tokens.items():
            tf = toks.count(term)
            if tf:
                norm = 1.2 * (1 - 0.75 + 0.75 * len(toks) / avgdl)
                scores[doc] = scores.get(doc, 0.0) + idf * tf * 2.2 / (tf + norm)
    positive = {doc: s for doc, s in scores.items() if s > 0}
    ranking = sorted(
        ((s, doc) for doc, s in positive.items()), key=lambda x: (-x[0], x[1])
    )
    return positive, ranking[:limit]


def assert_matches(
    got: list[tuple[float, Doc]], positive: dict[Doc, float], limit: int
) -> None:
    """Same scores (to float noise), sorted by (score desc, id), and a true top set.

    Exact ties are compared exactly by the ordering check; only documents whose
    reference scores differ by float noise may trade places at the cut.
    """
    assert len(got) == min(max(limit, 0), len(positive))
    for score, doc in got:
        assert math.isclose(score, positive[doc], rel_tol=1e-12)
    for (s1, d1), (s2, d2) in itertools.pairwise(got):
        assert s1 > s2 or (s1 == s2 and d1 < d2)
    if got:
        chosen = {doc for _, doc in got}
        floor = min(positive[doc] for doc in chosen)
        for doc, score in positive.items():
            if doc not in chosen:
                assert score <= floor * (1 + 1e-12)


def run_search(
    indexes: dict[tuple[str, ...], InvertedIndex],
    names: list[tuple[str, ...]],
    query: str,
    limit: int,
) -> list[tuple[float, Doc]]:
    parts = [(name, indexes[name]) for name in sorted(names) if name in indexes]
    return [(s, (*ns, key)) for s, ns, key in search(parts, tokenize(query), limit)]


texts = st.lists(
    st.sampled_from([*WORDS, "Alpha!", "beta-gamma", "  "]), max_size=9
).map(" ".join)
keys = st.sampled_from(["k0", "k1", "k2", "k3", "k4", "k5"])
spaces = st.sampled_from([("n",), ("n", "sub"), ("m",)])
operations = st.lists(
    st.one_of(
        st.tuples(st.just("upsert"), spaces, keys, texts),
        st.tuples(st.just("remove"), spaces, keys, st.just("")),
        st.tuples(st.just("query"), spaces, texts, st.integers(-1, 7).map(str)),
        st.tuples(st.just("union"), spaces, texts, st.integers(0, 7).map(str)),
        st.tuples(st.just("flush"), spaces, st.just(""), st.just("")),
    ),
    max_size=40,
)


@settings(max_examples=150)
@given(operations)
def test_random_edits_and_queries_match_brute_force(
    ops: list[tuple[str, tuple[str, ...], str, str]],
) -> None:
    """Any sequence of upserts, removals and queries scores exactly like docs/memory.md.

    "flush" (what bulk loads call) prebuilds impact lists; the threshold is lowered
    so that the small documents here exercise it.
    """
    prebuilt = _index._PREBUILT_DF
    _index._PREBUILT_DF = 1
    try:
        _check_history(ops)
    finally:
        _index._PREBUILT_DF = prebuilt


def _check_history(ops: list[tuple[str, tuple[str, ...], str, str]]) -> None:
    indexes: dict[tuple[str, ...], InvertedIndex] = {}
    docs: dict[tuple[str, ...], dict[str, str]] = {}
    for op, space, a, b in ops:
        if op == "flush":
            if space in indexes:
                indexes[space].flush()
        elif op == "upsert":
            indexes.setdefault(space, InvertedIndex()).upsert(a, tokenize(b))
            docs.setdefault(space, {})[a] = b
        elif op == "remove":
            index = indexes.get(space)
            existed = index.remove(a) if index is not None else False
            assert existed == (a in docs.get(space, {}))
            docs.get(space, {}).pop(a, None)
        else:
            limit = int(b)
            names = [space]
            if op == "union":  # the whole store, scored as one index
                names = list(indexes)
            pool = {(*n, k): t for n in names for k, t in docs.get(n, {}).items()}
            positive, _ = brute_force(pool, a, limit)
            assert_matches(run_search(indexes, names, a, limit), positive, limit)
    for space, index in indexes.items():  # statistics stay exact after every edit
        live = docs.get(space, {})
        assert len(index) == len(live)
        assert index.total_length == sum(len(tokenize(t)) for t in live.values())
        for word in WORDS:
            assert index.df(word) == sum(word in tokenize(t) for t in live.values())


def test_identical_documents_tie_exactly_and_sort_by_id() -> None:
    """Equal (tf, length) gives bit-identical scores; the id breaks the tie."""
    index = InvertedIndex()
    for key in ["b", "c", "a", "d"]:
        index.upsert(key, tokenize("the cat sat"))
    index.upsert("e", tokenize("dog"))
    hits = search([((), index)], tokenize("cat"), 3)
    assert [key for _, _, key in hits] == ["a", "b", "c"]
    assert len({score for score, _, _ in hits}) == 1


def test_repeated_query_terms_count_twice() -> None:
    """'cat cat' scores exactly twice what 'cat' scores."""
    index = InvertedIndex()
    index.upsert("a", tokenize("cat on a mat"))
    index.upsert("b", tokenize("dog"))
    (once,) = search([((), index)], ["cat"], 5)
    (twice,) = search([((), index)], ["cat", "cat"], 5)
    assert twice[0] == 2 * once[0]


def test_empty_cases_return_nothing() -> None:
    """limit <= 0, no documents, no terms, or unknown terms: no hits."""
    index = InvertedIndex()
    assert search([((), index)], ["cat"], 10) == []
    index.upsert("a", tokenize("cat"))
    assert search([((), index)], ["cat"], 0) == []
    assert search([((), index)], ["cat"], -3) == []
    assert search([((), index)], [], 10) == []
    assert search([((), index)], ["dog"], 10) == []
    assert search([], ["cat"], 10) == []


def test_known_scores_for_a_small_corpus() -> None:
    """A hand-checked example: the formula with k1 = 1.2, b = 0.75."""
    index = InvertedIndex()
    index.upsert("d1", tokenize("the quick brown fox"))
    index.upsert("d2", tokenize("the lazy dog"))
    index.upsert("d3", tokenize("quick quick fox jumps"))
    hits = search([((), index)], tokenize("quick fox"), 10)
    avgdl = 11 / 3
    idf = math.log(1 + (3 - 2 + 0.5) / (2 + 0.5))

    def part(tf: int, dl: int) -> float:
        return idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * dl / avgdl))

    assert [key for _, _, key in hits] == ["d3", "d1"]
    assert math.isclose(hits[0][0], part(2, 4) + part(1, 4), rel_tol=1e-15)
    assert math.isclose(hits[1][0], part(1, 4) + part(1, 4), rel_tol=1e-15)


def test_empty_document_counts_towards_n_and_avgdl() -> None:
    """A text with no terms is still a document: it changes N and avgdl."""
    index = InvertedIndex()
    index.upsert("a", tokenize("cat"))
    (alone,) = search([((), index)], ["cat"], 5)
    index.upsert("empty", tokenize("?!"))
    (with_empty,) = search([((), index)], ["cat"], 5)
    assert len(index) == 2
    assert with_empty[0] > alone[0]  # higher idf (N=2) and shorter than average
