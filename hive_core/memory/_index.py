"""The BM25 inverted index and its exact top-k search.

Scores follow docs/memory.md ("BM25, exactly") exactly; the speed comes from *which* documents get
scored, never from approximating a score.

Layout (per namespace index):

* ``postings[term][slot] = tf`` answers "what is this document's tf" in O(1);
* ``impacts[term][tf]`` lists ``dl << 32 | slot`` in ascending order. Within one tf the
  BM25 contribution falls as ``dl`` grows *whatever avgdl is*, so every list is sorted
  by contribution and stays sorted when other documents change ``avgdl``. Impacts are
  built from the postings by the first search that reads the term and maintained by
  later edits (a bulk load builds those of all but the rarest terms in one pass at the
  end), so loading writes little more than the postings.

Search is Fagin's threshold algorithm: read the lists of the query terms in falling
contribution order, score each newly seen document in full (random access through
``postings``), and stop as soon as the ``limit``-th best score beats the sum of the
contributions still unread, which bounds every unseen document. Common terms ("the",
"of") are then read only as far as their best documents instead of one step per
document containing them; at 100k documents a typical query scores a few hundred.
"""

from __future__ import annotations

import gc
import heapq
import math
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from ._protocol import Namespace

__all__ = ["B", "K1", "InvertedIndex", "forget", "gc_paused", "search"]

K1 = 1.2
"""Term-frequency saturation (docs/memory.md)."""
B = 0.75
"""Length normalisation (docs/memory.md)."""

_K1P1 = K1 + 1.0
_ONE_MINUS_B = 1.0 - B
_BASE = K1 * _ONE_MINUS_B
_MARGIN = 1.0 + 1e-12
_PREBUILT_DF = 16
_SHIFT = 32
_MASK = (1 << _SHIFT) - 1


@contextmanager
def gc_paused() -> Iterator[None]:
    """Suspend the cyclic garbage collector during a bulk load.

    Indexing creates millions of long-lived dicts and lists and no cycles; with the
    collector on, its repeated full passes over them make a 100k-document load about
    twice as slow. Reference counting still frees everything as usual.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _Cursor:
    """A read position in one (part, tf) impact list during a search."""

    __slots__ = ("entries", "numerator", "offset", "part", "pos")

    def __init__(
        self, numerator: float, offset: float, entries: list[int], part: int
    ) -> None:
        self.numerator = numerator  # weight * tf * (k1 + 1)
        self.offset = offset  # tf + k1 * (1 - b)
        self.entries = entries
        self.part = part
        self.pos = 0


class InvertedIndex:
    """Postings of one namespace; every statistic BM25 needs stays exact on each edit.

    Documents live in integer slots (reused after removal) so postings hold small ints
    instead of key strings. ``upsert`` appends to the impact lists already built and
    marks a list unordered only when the new entry lands out of order; such lists are
    sorted by the next search that reads them, or all at once by :meth:`flush`.
    """

    __slots__ = (
        "_free",
        "_impacts",
        "_keys",
        "_lengths",
        "_postings",
        "_slot_of",
        "_terms",
        "_total",
        "_unordered",
    )

    def __init__(self) -> None:
        self._slot_of: dict[str, int] = {}
        self._keys: list[str] = []
        self._lengths: list[int] = []
        self._terms: list[tuple[str, ...]] = []
        self._free: list[int] = []
        self._postings: dict[str, dict[int, int]] = {}
        self._impacts: dict[str, dict[int, list[int]]] = {}
        self._total = 0
        # Impact lists that may be out of order, by id(); sorted before being read.
        self._unordered: dict[int, list[int]] = {}

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, key: object) -> bool:
        return key in self._slot_of

    @property
    def total_length(self) -> int:
        """Sum of all document lengths (tokens), the numerator of ``avgdl``."""
        return self._total

    def df(self, term: str) -> int:
        """How many documents contain ``term``."""
        postings = self._postings.get(term)
        return 0 if postings is None else len(postings)

    def upsert(self, key: str, tokens: Sequence[str]) -> None:
        """Index ``tokens`` as the document ``key``, replacing any previous version."""
        if key in self._slot_of:
            self.remove(key)
        counts = Counter(tokens)
        dl = len(tokens)
        if self._free:
            slot = self._free.pop()
            self._keys[slot] = key
            self._lengths[slot] = dl
            self._terms[slot] = tuple(counts)
        else:
            slot = len(self._keys)
            self._keys.append(key)
            self._lengths.append(dl)
            self._terms.append(tuple(counts))
        self._slot_of[key] = slot
        self._total += dl
        postings = self._postings
        impacts = self._impacts
        if not impacts:  # nothing searched yet (bulk load): postings only
            for term, tf in counts.items():
                posts = postings.get(term)
                if posts is None:
                    postings[term] = {slot: tf}
                else:
                    posts[slot] = tf
            return
        entry = dl << _SHIFT | slot
        unordered = self._unordered
        for term, tf in counts.items():
            posts = postings.get(term)
            if posts is None:
                postings[term] = {slot: tf}
                continue
            posts[slot] = tf
            groups = impacts.get(term)
            if groups is None:
                continue
            entries = groups.get(tf)
            if entries is None:
                groups[tf] = [entry]
            else:
                if entry < entries[-1]:
                    unordered[id(entries)] = entries
                entries.append(entry)

    def remove(self, key: str) -> bool:
        """Drop the document ``key``; ``False`` if it was not indexed."""
        slot = self._slot_of.pop(key, None)
        if slot is None:
            return False
        dl = self._lengths[slot]
        entry = dl << _SHIFT | slot
        postings = self._postings
        impacts = self._impacts
        unordered = self._unordered
        for term in self._terms[slot]:
            posts = postings[term]
            tf = posts.pop(slot)
            groups = impacts.get(term)
            if not posts:
                del postings[term]
                if groups is not None:
                    del impacts[term]
                    unordered.pop(id(groups[tf]), None)  # ids are reused once freed
                continue
            if groups is None:
                continue
            entries = groups[tf]
            if len(entries) == 1:
                unordered.pop(id(entries), None)
                del groups[tf]
            elif id(entries) in unordered:
                entries.remove(entry)
            else:
                del entries[bisect_left(entries, entry)]
        self._total -= dl
        self._keys[slot] = ""
        self._terms[slot] = ()
        self._lengths[slot] = 0
        self._free.append(slot)
        return True

    def flush(self) -> None:
        """Get ready for searching after a bulk load.

        Sorts impact lists left unordered by appends and builds those of every term
        in more than ``_PREBUILT_DF`` documents, so the first queries do not pay for
        them; the rare rest cost microseconds to build when first searched.
        """
        for entries in self._unordered.values():
            entries.sort()
        self._unordered.clear()
        impacts = self._impacts
        for term, posts in self._postings.items():
            if len(posts) > _PREBUILT_DF and term not in impacts:
                self._build_impacts(term, posts)

    def _build_impacts(self, term: str, posts: dict[int, int]) -> dict[int, list[int]]:
        lengths = self._lengths
        groups: dict[int, list[int]] = {}
        for slot, tf in posts.items():
            entry = lengths[slot] << _SHIFT | slot
            entries = groups.get(tf)
            if entries is None:
                groups[tf] = [entry]
            else:
                entries.append(entry)
        for entries in groups.values():
            entries.sort()
        self._impacts[term] = groups
        return groups

    def _ordered_groups(self, term: str) -> list[tuple[int, list[int]]]:
        """The impact lists of ``term`` by ascending tf, each sorted; built on demand."""
        groups = self._impacts.get(term)
        if groups is None:
            posts = self._postings.get(term)
            if posts is None:
                return []
            groups = self._build_impacts(term, posts)
        else:
            for entries in groups.values():
                if self._unordered.pop(id(entries), None) is not None:
                    entries.sort()
        return [(tf, groups[tf]) for tf in sorted(groups)]


def forget(
    indexes: dict[Namespace, InvertedIndex], namespace: Namespace, key: str
) -> None:
    """Drop ``key`` from the cached index of ``namespace``, if cached; an index left
    empty is dropped too (its namespace no longer exists)."""
    index = indexes.get(namespace)
    if index is not None:
        index.remove(key)
        if not len(index):
            del indexes[namespace]


def search(
    parts: Sequence[tuple[Namespace, InvertedIndex]],
    tokens: Sequence[str],
    limit: int,
) -> list[tuple[float, Namespace, str]]:
    """Exact BM25 top-``limit`` over the union of ``parts``.

    ``N``, ``df`` and ``avgdl`` are taken over all parts together, as if they were one
    index. Returns ``(score, namespace, key)`` sorted by score descending, then by the
    document id ``namespace + (key,)`` ascending.
    """
    if limit <= 0 or not tokens:
        return []
    n_docs = 0
    total = 0
    for _, index in parts:
        n_docs += len(index)
        total += index.total_length
    if n_docs == 0:
        return []
    avgdl = max(total / n_docs, 1e-9)
    terms, weights = _query_terms(parts, tokens, n_docs)
    if not terms:
        return []
    found, best = _top_scores(parts, terms, weights, avgdl, limit)

    # Only scores that can still make the cut are sorted (ties at the cut included).
    cut = best[0] if len(best) >= limit else 0.0
    results: list[tuple[float, Namespace, str]] = []
    for score, p, slot in found:
        if score > 0.0 and score >= cut:
            namespace, index = parts[p]
            results.append((score, namespace, index._keys[slot]))
    results.sort(key=lambda r: (-r[0], (*r[1], r[2])))
    del results[limit:]
    return results


def _query_terms(
    parts: Sequence[tuple[Namespace, InvertedIndex]],
    tokens: Sequence[str],
    n_docs: int,
) -> tuple[list[str], list[float]]:
    """The query's terms that occur anywhere, with their weights (count x idf)."""
    counts: dict[str, int] = {}
    for token in tokens:
        counts[token] = counts.get(token, 0) + 1
    # Canonical term order = first occurrence in the query. Every score is summed in
    # this order, so documents with equal (tf, length) per term get bit-identical
    # scores and the document id alone decides between them.
    weights: list[float] = []
    terms: list[str] = []
    for term, count in counts.items():
        df = sum(index.df(term) for _, index in parts)
        if df:
            idf = math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
            weights.append(count * idf)
            terms.append(term)
    return terms, weights


def _term_heaps(
    parts: Sequence[tuple[Namespace, InvertedIndex]],
    terms: Sequence[str],
    weights: Sequence[float],
    slope: float,
) -> tuple[list[list[tuple[float, int, _Cursor]]], list[int], list[float]]:
    """Per term: the heap of its cursors, its unread entry count and its head."""
    # One heap per term over cursors, each walking one (part, tf) impact list; heap
    # items are (-contribution of the cursor's next entry, creation order, cursor).
    heaps: list[list[tuple[float, int, _Cursor]]] = []
    remaining: list[int] = []
    heads: list[float] = []  # each term's largest unread contribution (0 = none)
    order = 0
    for t, term in enumerate(terms):
        heap: list[tuple[float, int, _Cursor]] = []
        size = 0
        for p, (_, index) in enumerate(parts):
            for tf, entries in index._ordered_groups(term):
                cur = _Cursor(weights[t] * tf * _K1P1, tf + _BASE, entries, p)
                c = cur.numerator / (cur.offset + slope * (entries[0] >> _SHIFT))
                heap.append((-c, order, cur))
                size += len(entries)
                order += 1
        heapq.heapify(heap)
        heaps.append(heap)
        remaining.append(size)
        heads.append(-heap[0][0] if heap else 0.0)
    return heaps, remaining, heads


def _top_scores(
    parts: Sequence[tuple[Namespace, InvertedIndex]],
    terms: Sequence[str],
    weights: Sequence[float],
    avgdl: float,
    limit: int,
) -> tuple[list[tuple[float, int, int]], list[float]]:
    """Every document read as ``(score, part, slot)``, and the ``limit`` best scores.

    Bounds use a cheaper, algebraically equal form of a contribution; the stop test
    allows a 1e-12 relative margin for the few ulps by which the two forms (and sums
    in another order) may differ, so the result is still exactly the top.
    """
    # Per part, the postings dict of each term (or None), aligned with `terms`.
    part_posts = [[index._postings.get(t) for t in terms] for _, index in parts]
    part_lengths = [index._lengths for _, index in parts]
    slope = K1 * B / avgdl
    heaps, remaining, heads = _term_heaps(parts, terms, weights, slope)

    best: list[float] = []  # min-heap of the `limit` best scores seen so far
    seen: set[int] = set()
    found: list[tuple[float, int, int]] = []
    reads = 0
    while True:
        if len(best) >= limit and best[0] > sum(heads) * _MARGIN:
            break
        # Which term to read next alternates between two rules, so the cost stays
        # within about twice that of the better one for the query at hand:
        # * highest head: reading the largest contribution lowers the threshold
        #   fastest when every term is common, as in "to a";
        # * fewest unread entries: draining a rare term removes its whole head from
        #   the threshold in a few reads (best when the query has a rare term).
        reads += 1
        pick = heads.index(max(heads)) if reads & 1 else -1
        if pick < 0 or not remaining[pick]:
            pick = -1
            fewest = 0
            for t, left in enumerate(remaining):
                if left and (pick < 0 or left < fewest):
                    pick = t
                    fewest = left
            if pick < 0:
                break
        remaining[pick] -= 1
        heap = heaps[pick]
        _, order, cur = heap[0]
        entries = cur.entries
        pos = cur.pos
        entry = entries[pos]
        pos += 1
        if pos < len(entries):
            cur.pos = pos
            c = cur.numerator / (cur.offset + slope * (entries[pos] >> _SHIFT))
            heapq.heapreplace(heap, (-c, order, cur))
        else:
            heapq.heappop(heap)
        heads[pick] = -heap[0][0] if heap else 0.0
        p = cur.part
        slot = entry & _MASK
        doc = p << _SHIFT | slot
        if doc in seen:
            continue
        seen.add(doc)
        # Full score of the newly seen document, in canonical term order.
        dl = part_lengths[p][slot]
        norm = K1 * (_ONE_MINUS_B + B * dl / avgdl)
        score = 0.0
        for t, posts in enumerate(part_posts[p]):
            if posts is not None:
                tf_d = posts.get(slot)
                if tf_d is not None:
                    score += weights[t] * (tf_d * _K1P1 / (tf_d + norm))
        found.append((score, p, slot))
        if len(best) < limit:
            heapq.heappush(best, score)
        elif score > best[0]:
            heapq.heapreplace(best, score)
    return found, best
