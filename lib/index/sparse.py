"""BM25-style sparse term vectors, tokenised the same way at index and query time.

Documents carry BM25's term-frequency part; Qdrant's IDF modifier supplies the
inverse document frequency at query time, so the dot product Qdrant computes is
BM25. Terms are hashed to 32-bit indices, so no vocabulary has to be stored.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
from collections import Counter
from typing import Mapping

from attrs import frozen

# The collection's named vectors: the BM25 term vectors below, and the embeddings when a model makes them.
DENSE = "dense"
SPARSE = "sparse"

K1 = 1.2
B = 0.75
AVERAGE_TERMS = 150  # a typical chunk's term count; fixed so that re-indexing one file changes no other

_WORD = re.compile(r"[^\W_]+(?:[_'][^\W_]+)*")
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not of off on once only or other our ours ourselves out over own
    same she should so some such than that the their theirs them themselves then there these they
    this those through to too under until up very was we were what when where which while who whom
    why will with would you your yours yourself yourselves im whats dont doesnt cant tell explain
    please""".split()
)


def _stem(word: str) -> str:
    """Fold the commonest English inflections, so 'chunks' finds 'chunk'."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 6 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 5 and word.endswith("ed") and not word.endswith("eed"):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def terms(text: str) -> list[str]:
    """The index terms of a text, in order, stopwords removed."""
    return [term for term in map(_term, _WORD.findall(text)) if term is not None]


@functools.lru_cache(maxsize=1 << 17)
def _term(word: str) -> str | None:
    """A word's index term, or None for a stopword; a book uses the same words again and again."""
    word = word.lower().replace("'", "")
    if word in STOPWORDS or (len(word) < 2 and not word.isdigit()):
        return None
    return _stem(word)


@functools.lru_cache(maxsize=1 << 17)
def term_index(term: str) -> int:
    return int.from_bytes(hashlib.blake2b(term.encode(), digest_size=4).digest(), "little")


@frozen
class Sparse:
    """A sparse vector: term indices, sorted and unique, and their weights."""

    indices: tuple[int, ...]
    values: tuple[float, ...]


def document_vector(text: str) -> Sparse:
    counts = Counter(terms(text))
    length = sum(counts.values())
    weights: dict[int, float] = {}
    for term, tf in counts.items():
        weight = tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / AVERAGE_TERMS))
        index = term_index(term)
        weights[index] = weights.get(index, 0.0) + weight
    ordered = sorted(weights)
    return Sparse(indices=tuple(ordered), values=tuple(weights[index] for index in ordered))


def query_vector(text: str) -> Sparse:
    indices = tuple(sorted({term_index(term) for term in terms(text)}))
    return Sparse(indices=indices, values=(1.0,) * len(indices))


def bm25_idf(document_frequency: int, documents: int) -> float:
    """Inverse document frequency as BM25 and Qdrant's IDF modifier compute it."""
    return math.log((documents - document_frequency + 0.5) / (document_frequency + 0.5) + 1)


def coverage(question: str, passage: str, idf: Mapping[str, float] | None = None) -> float:
    """How much of the question the passage contains, from 0 to 1: the lexical mode's relevance.

    With `idf` (each question term's inverse document frequency in the
    collection), it is the IDF-weighted share of the question's distinct terms
    found in the passage: a term the book seldom uses weighs more than one
    it uses everywhere, and a term it never uses weighs most. "How do I
    deploy this with a Terraform module on AWS Lambda?" finds "deploy" and
    "AWS" in a passage about deploying, and scores 0.24 on the bundled book
    rather than 0.4. A term missing from `idf` weighs 1; without `idf`, every
    term weighs the same.
    BM25 sums are unbounded and depend on the collection, so the refusal
    threshold is applied to this instead.
    """
    wanted = set(terms(question))
    if not wanted:
        return 0.0
    weights = {term: (idf or {}).get(term, 1.0) for term in wanted}
    total = sum(weights.values())
    if total <= 0:
        return 0.0
    found = wanted & set(terms(passage))
    return sum(weights[term] for term in found) / total
