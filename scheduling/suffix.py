"""A suffix automaton over a group's growing token sequences, for drafting tokens.

Grouped speculative decoding (Seer) drafts the next tokens of a rollout request from
what the request's siblings (same prompt) and the request itself have generated so far.
:class:`SuffixAutomaton` indexes several token-id sequences that grow one token at a time,
in any interleaving, and answers the two questions a drafter asks:

* :meth:`~SuffixAutomaton.longest_match`: the longest suffix of a context that occurs in
  the indexed sequences, how often, and one place where it occurs;
* :meth:`~SuffixAutomaton.continuations`: up to ``k`` distinct continuations of that
  suffix, most frequent first, with their occurrence counts.

Data structure
--------------
The generalised suffix automaton (DAWG) of the sequences: a state is a class of
substrings with the same set of end positions (``endpos``) over all sequences; it stores

* ``len``: the length of its longest substring (its substrings are the suffixes of that
  one longer than ``len(link)``);
* ``link``: the state of the longest suffix with a larger ``endpos`` set. The links form
  a tree rooted at the empty string, which is the suffix tree of the reversed sequences;
* ``next``: one transition per token ``c``: the state of ``x c`` for the substrings ``x``
  of the state (a dict, the alphabet being GPT-2's 50,257 tokens);
* ``count``: ``|endpos|``, the occurrences of its substrings, and per sequence the
  occurrences and the latest end position (for excluding one sequence and for saying
  where a match occurs);
* one occurrence ``(sequence, end)`` and the link-tree children keyed by the token that
  extends the state's shortest substring to the left.

Appending token ``c`` to sequence ``s`` is Blumer et al.'s online step (Theor. Comput.
Sci. 40, 1985), generalised to several sequences: each sequence keeps its own end state
``last[s]`` (the state whose longest substring is all of ``s``); if ``last[s]`` already
has a ``c`` transition the new prefix exists already and is reused (or split off by a
clone); otherwise a new state is created and the suffix-link path is walked, adding
transitions, cloning a state whose longest substring is too long and redirecting the
transitions that pointed to it. Finally the new end position is counted on the path of
suffix links from the new end state to the root.

Costs (``N`` tokens indexed in all):

* size: at most ``2 N`` states and ``3 N`` transitions;
* appending, structure: amortised O(1) when the sequences are filled one after another
  (Blumer et al.'s potential argument). When appends interleave across sequences
  ("fully online", as in a rollout), Takagi et al. (Algorithmica 82, 2020) show that
  the same update can redirect superlinearly many transitions in the worst case; the
  O(N log sigma) fully-online algorithms need nearest-marked-ancestor structures and
  are not used here;
* appending, counts: one step per state on the suffix-link path of the new end state,
  at most one plus the length of the longest suffix of the sequence that also ends
  elsewhere. That is small for text that does not repeat itself, but grows with
  repetition (``n`` copies of one token cost ``n`` steps for the last one);
* measured on the rollout data with siblings appended round-robin token by token
  (:meth:`~SuffixAutomaton.work`, printed by ``benchmarks/spec_acceptance.py``): 5 to
  10 steps per token in all, 7 to 15 microseconds per token in CPython;
* :meth:`~SuffixAutomaton.longest_match`: O(match length) token comparisons. The
  context is read right to left down the link tree (the suffix tree of the reversed
  sequences), checking each edge against the stored occurrence's tokens, so only the
  matched suffix and one more token are read, however long the context;
* :meth:`~SuffixAutomaton.continuations`: the match, then per draft token one pass over
  the current state's transitions (the most frequent one is taken; with ``k > 1`` the
  others are kept as branch candidates in a heap).

Examples
--------
>>> index = SuffixAutomaton()
>>> index.extend("a", [5, 1, 2, 3, 9])
>>> index.extend("b", [7, 1, 2, 3, 4, 1, 2, 3, 4])
>>> m = index.longest_match([8, 1, 2])
>>> m.length, m.count
(2, 3)
>>> [(c.tokens, c.counts) for c in index.continuations([8, 1, 2], max_len=3, k=2)]
[((3, 4, 1), (3, 2, 1)), ((3, 9), (3, 1))]
>>> [c.tokens for c in index.continuations([8, 1, 2], max_len=3, exclude="b")]
[(3, 9)]
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Continuation", "Match", "SuffixAutomaton"]


@dataclass(frozen=True)
class Match:
    """The longest suffix of a context found in the index.

    Attributes
    ----------
    length : int
        Tokens in the matched suffix (0: not even its last token occurs).
    count : int
        Occurrences (end positions) of the matched suffix in the searched sequences.
    seq_id : hashable or None
        A sequence where it occurs (None when ``length`` is 0).
    end : int
        Index in that sequence of the occurrence's last token (-1 when ``length`` is 0):
        the suffix is ``sequence[end - length + 1 : end + 1]``.
    """

    length: int
    count: int
    seq_id: Hashable | None
    end: int


@dataclass(frozen=True)
class Continuation:
    """A draft continuation of a matched suffix.

    Attributes
    ----------
    tokens : tuple of int
        The continuation's tokens.
    counts : tuple of int
        ``counts[i]``: occurrences of the matched suffix followed by ``tokens[: i + 1]``;
        non-increasing.
    """

    tokens: tuple[int, ...]
    counts: tuple[int, ...]

    @property
    def count(self) -> int:
        """Occurrences of the matched suffix followed by all of :attr:`tokens`."""
        return self.counts[-1] if self.counts else 0


def _check_token(token: object) -> int:
    if isinstance(token, bool | np.bool_) or not isinstance(token, int | np.integer):
        raise TypeError(f"a token must be an int, got {token!r}")
    if token < 0:
        raise ValueError(f"a token must be >= 0, got {token}")
    return int(token)


def _check_count(value: object, field: str, low: int) -> int:
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise TypeError(f"{field} must be an int, got {value!r}")
    if value < low:
        raise ValueError(f"{field} must be at least {low}, got {value}")
    return int(value)


class SuffixAutomaton:
    """Generalised suffix automaton of several growing token sequences.

    Sequences are named by any hashable id and created by their first
    :meth:`append`/:meth:`extend` (or :meth:`add_sequence`). See the module docstring for
    the data structure and its costs.

    Parameters
    ----------
    track_sources : bool, default True
        Keep per state the occurrences of each sequence, which ``exclude=`` needs. An
        index that never excludes a sequence can do without (about a third less memory
        and faster appends); ``exclude`` then raises ``ValueError``.

    Examples
    --------
    >>> index = SuffixAutomaton()
    >>> index.append(0, 4)
    >>> index.extend(1, [4, 4])
    >>> len(index), index.sequence(1)
    (3, (4, 4))
    >>> index.longest_match([4, 4, 4]).length
    2
    """

    def __init__(self, *, track_sources: bool = True) -> None:
        if not isinstance(track_sources, bool):
            raise TypeError(f"track_sources must be a bool, got {track_sources!r}")
        self._track = track_sources
        # per state, as parallel lists (faster than objects in CPython)
        self._len: list[int] = [0]
        self._link: list[int] = [-1]
        self._next: list[dict[int, int]] = [{}]
        self._count: list[int] = [0]
        # seq -> [occurrences, latest end]; None per state without track_sources
        self._src: list[dict[int, list[int]] | None] = [{} if track_sources else None]
        self._occ_seq: list[int] = [-1]
        self._occ_end: list[int] = [-1]
        self._kids: list[dict[int, int]] = [{}]  # link-tree children by left token
        # per sequence
        self._ids: dict[Hashable, int] = {}
        self._names: list[Hashable] = []
        self._seqs: list[list[int]] = []
        self._last: list[int] = []
        self._tokens = 0
        self._work = 0

    # ------------------------------------------------------------------ building
    def add_sequence(self, seq_id: Hashable) -> None:
        """Register an empty sequence ``seq_id`` (a no-op if it exists)."""
        self._index(seq_id)

    def _index(self, seq_id: Hashable) -> int:
        s = self._ids.get(seq_id)
        if s is None:
            try:
                hash(seq_id)
            except TypeError:
                raise TypeError(f"seq_id must be hashable, got {seq_id!r}") from None
            s = len(self._names)
            self._ids[seq_id] = s
            self._names.append(seq_id)
            self._seqs.append([])
            self._last.append(0)
        return s

    def _new_state(self, length: int, seq: int, end: int) -> int:
        self._len.append(length)
        self._link.append(-1)
        self._next.append({})
        self._count.append(0)
        self._src.append({} if self._track else None)
        self._occ_seq.append(seq)
        self._occ_end.append(end)
        self._kids.append({})
        return len(self._len) - 1

    def _left_token(self, state: int, parent_len: int) -> int:
        """Return the token extending ``state``'s length-``parent_len`` suffix leftwards."""
        return self._seqs[self._occ_seq[state]][self._occ_end[state] - parent_len]

    def _clone(self, p: int, q: int, token: int) -> int:
        """Split ``q`` at length ``len(p) + 1``; redirect ``p``'s suffix path to the clone."""
        ln, link, nxt = self._len, self._link, self._next
        clone = self._new_state(ln[p] + 1, self._occ_seq[q], self._occ_end[q])
        nxt[clone] = dict(nxt[q])
        self._count[clone] = self._count[q]
        if self._track:
            self._src[clone] = {s: list(v) for s, v in self._src[q].items()}
        parent = link[q]
        link[clone] = parent
        self._kids[parent][self._left_token(q, ln[parent])] = clone
        link[q] = clone
        self._kids[clone][self._left_token(q, ln[clone])] = q
        work = 0
        while p != -1 and nxt[p].get(token) == q:
            nxt[p][token] = clone
            p = link[p]
            work += 1
        self._work += work
        return clone

    def append(self, seq_id: Hashable, token: int) -> None:
        """Append ``token`` (an int >= 0) to sequence ``seq_id``, creating it if new.

        Examples
        --------
        >>> index = SuffixAutomaton()
        >>> index.append("r0", 17)
        >>> index.sequence("r0")
        (17,)
        """
        token = _check_token(token)
        self._append(self._index(seq_id), token)

    def extend(self, seq_id: Hashable, tokens: Iterable[int]) -> None:
        """Append each of ``tokens`` to sequence ``seq_id`` in order.

        Examples
        --------
        >>> index = SuffixAutomaton()
        >>> index.extend(3, [1, 2, 1])
        >>> index.n_states  # root, {1}, {1 2, 2}, {1 2 1, 2 1}
        4
        """
        s = self._index(seq_id)
        for token in tokens:
            self._append(s, _check_token(token))

    def _append(self, s: int, token: int) -> None:
        ln, link, nxt = self._len, self._link, self._next
        seq = self._seqs[s]
        end = len(seq)
        seq.append(token)
        p = self._last[s]
        q = nxt[p].get(token)
        work = 1
        if q is not None:  # the new prefix already occurs (in another sequence)
            last = q if ln[q] == ln[p] + 1 else self._clone(p, q, token)
        else:
            cur = self._new_state(ln[p] + 1, s, end)
            while p != -1 and token not in nxt[p]:
                nxt[p][token] = cur
                p = link[p]
                work += 1
            if p == -1:
                parent = 0
            else:
                q = nxt[p][token]
                parent = q if ln[q] == ln[p] + 1 else self._clone(p, q, token)
            link[cur] = parent
            self._kids[parent][seq[end - ln[parent]]] = cur
            last = cur
        self._last[s] = last
        # the new end position belongs to every state on last's suffix-link path
        count, src = self._count, self._src
        v = last
        if not self._track:
            while v > 0:
                count[v] += 1
                v = link[v]
                work += 1
        while v > 0:
            count[v] += 1
            entry = src[v].get(s)
            if entry is None:
                src[v][s] = [1, end]
            else:
                entry[0] += 1
                entry[1] = end
            v = link[v]
            work += 1
        self._tokens += 1
        self._work += work

    # ------------------------------------------------------------------ inspection
    def __len__(self) -> int:
        """Tokens indexed over all sequences."""
        return self._tokens

    def __contains__(self, seq_id: object) -> bool:
        """Whether ``seq_id`` is a registered sequence."""
        try:
            return seq_id in self._ids
        except TypeError:
            return False

    @property
    def n_states(self) -> int:
        """States of the automaton, the root included."""
        return len(self._len)

    @property
    def n_transitions(self) -> int:
        """Transitions of the automaton."""
        return sum(len(t) for t in self._next)

    @property
    def sequence_ids(self) -> tuple[Hashable, ...]:
        """The registered sequences, in order of registration."""
        return tuple(self._names)

    def sequence(self, seq_id: Hashable) -> tuple[int, ...]:
        """Return the tokens of sequence ``seq_id``."""
        return tuple(self._seqs[self._known(seq_id)])

    def work(self) -> int:
        """Elementary steps spent building so far (loop iterations of all appends).

        Each append counts one step, plus one per suffix link followed while adding
        transitions, per transition redirected to a clone and per state counted.

        Examples
        --------
        >>> index = SuffixAutomaton()
        >>> index.extend(0, range(100))  # no repeats: one new state per token
        >>> index.work() / len(index)  # the append, two links followed, one count
        3.99
        >>> index.extend(1, [7] * 100)  # a run: every suffix recurs, counting walks it
        >>> index.work() > 5000
        True
        """
        return self._work

    def _known(self, seq_id: Hashable | None) -> int:
        try:
            s = self._ids.get(seq_id)  # type: ignore[arg-type]
        except TypeError:
            s = None
        if s is None:
            raise KeyError(f"unknown sequence {seq_id!r}; known: {self._names}")
        return s

    # ------------------------------------------------------------------ queries
    def _exclusion(self, exclude: Hashable | None) -> int:
        """Return the internal index of the excluded sequence (-1: none, or unknown)."""
        if exclude is None:
            return -1
        if not self._track:
            raise ValueError("exclude needs an index built with track_sources=True")
        try:
            return self._ids.get(exclude, -1)
        except TypeError:
            raise TypeError(f"exclude must be a hashable sequence id, got {exclude!r}") from None

    def _occurrences(self, state: int, ex: int) -> int:
        """``|endpos(state)|`` outside sequence ``ex``."""
        n = self._count[state]
        if ex >= 0:
            entry = self._src[state].get(ex)
            if entry is not None:
                n -= entry[0]
        return n

    def _followed(self, state: int, ex: int) -> bool:
        """Whether some occurrence of ``state`` outside ``ex`` has a next token."""
        if ex < 0:
            return bool(self._next[state])
        return any(self._occurrences(t, ex) > 0 for t in self._next[state].values())

    def _match(self, context: Sequence[int], ex: int, followed: bool) -> tuple[int, int]:
        """Deepest (state, length) for the longest acceptable suffix of ``context``."""
        ln, kids, seqs = self._len, self._kids, self._seqs
        occ_seq, occ_end = self._occ_seq, self._occ_end
        m = len(context)
        v, length = 0, 0
        while length < m:
            u = kids[v].get(context[m - 1 - length])
            if u is None:
                break
            if (ex >= 0 and self._occurrences(u, ex) <= 0) or (
                followed and not self._followed(u, ex)
            ):
                break  # longer suffixes occur only where this one does: none qualifies
            seq, end = seqs[occ_seq[u]], occ_end[u]
            top = min(ln[u], m)
            j = length + 1
            while j < top and context[m - 1 - j] == seq[end - j]:
                j += 1
            v, length = u, j
            if j < ln[u]:
                break
        return v, length

    def _where(self, state: int, ex: int) -> tuple[int, int]:
        """One occurrence ``(sequence, end)`` of ``state`` outside ``ex``."""
        if not self._track:  # ex is -1: the occurrence the state was created with
            return self._occ_seq[state], self._occ_end[state]
        for s, (n, end) in self._src[state].items():
            if s != ex and n > 0:
                return s, end
        raise AssertionError("a state has an occurrence outside the excluded sequence")

    def _check_context(self, context: Sequence[int]) -> Sequence[int]:
        if isinstance(context, np.ndarray):
            if context.ndim != 1 or not np.issubdtype(context.dtype, np.integer):
                raise TypeError("context must be a 1-D sequence of int tokens")
            return context.tolist()
        if not isinstance(context, Sequence) or isinstance(context, str | bytes):
            raise TypeError(f"context must be a sequence of int tokens, got {type(context)}")
        return context

    def longest_match(
        self,
        context: Sequence[int],
        *,
        exclude: Hashable | None = None,
        followed: bool = False,
    ) -> Match:
        """Find the longest suffix of ``context`` that occurs in the indexed sequences.

        Parameters
        ----------
        context : sequence of int
            The tokens whose suffix is looked up (e.g. a request's output so far).
        exclude : hashable, optional
            A sequence whose occurrences do not count (a request's own text when only
            its siblings may be drafted from).
        followed : bool, default False
            Count only suffixes with an occurrence that has a next token (what drafting
            needs: an occurrence at the very end of a sequence continues with nothing).

        Returns
        -------
        Match
            ``count`` counts all occurrences outside ``exclude``; the occurrence named is
            one with a next token when ``followed``.

        Examples
        --------
        >>> index = SuffixAutomaton()
        >>> index.extend("a", [1, 2, 3, 1, 2])
        >>> index.longest_match([9, 1, 2])
        Match(length=2, count=2, seq_id='a', end=4)
        >>> index.longest_match([9, 1, 2], followed=True)
        Match(length=2, count=2, seq_id='a', end=1)
        >>> index.longest_match([1, 2, 3, 1, 2], followed=True).length  # itself: no next
        2
        """
        context = self._check_context(context)
        ex = self._exclusion(exclude)
        v, length = self._match(context, ex, bool(followed))
        if length == 0:
            return Match(0, 0, None, -1)
        if followed:
            nxt = [t for t in self._next[v].values() if self._occurrences(t, ex) > 0]
            s, end = self._where(nxt[0], ex)
            end -= 1
        else:
            s, end = self._where(v, ex)
        return Match(length, self._occurrences(v, ex), self._names[s], end)

    def continuations(
        self,
        context: Sequence[int],
        max_len: int,
        k: int = 1,
        *,
        exclude: Hashable | None = None,
        min_match: int = 1,
    ) -> list[Continuation]:
        """Up to ``k`` draft continuations of the longest suffix of ``context`` with one.

        The suffix is :meth:`longest_match` with ``followed=True``; if it is shorter than
        ``min_match`` nothing is drafted. Its occurrences' next (up to) ``max_len`` tokens
        form a trie whose nodes count the occurrences through them. The first
        continuation follows the most frequent child from the root down (ties: the
        smaller token id); each further one branches off the chosen paths at the most
        frequent node not yet on them (ties: shallower, then smaller tokens) and
        continues greedily. Continuations are therefore distinct, none is a prefix of
        another, and their branch counts do not increase.

        Parameters
        ----------
        context : sequence of int
        max_len : int
            Most tokens per continuation (>= 1).
        k : int, default 1
            Most continuations (>= 1).
        exclude : hashable, optional
            A sequence whose occurrences do not count (see :meth:`longest_match`).
        min_match : int, default 1
            Shortest matched suffix worth drafting from (>= 1).

        Returns
        -------
        list of Continuation

        Examples
        --------
        >>> index = SuffixAutomaton()
        >>> index.extend("x", [1, 2, 3, 4, 1, 2, 3, 5, 1, 2, 6])
        >>> [(c.tokens, c.counts) for c in index.continuations([0, 1, 2], 2, k=3)]
        [((3, 4), (2, 1)), ((6,), (1,)), ((3, 5), (2, 1))]

        ``(6,)`` and ``(3, 5)`` branch off with one occurrence each; the shallower
        branch comes first.
        """
        context = self._check_context(context)
        max_len = _check_count(max_len, "max_len", 1)
        k = _check_count(k, "k", 1)
        min_match = _check_count(min_match, "min_match", 1)
        return self._continuations(context, max_len, k, self._exclusion(exclude), min_match)

    def continuations_of(
        self, seq_id: Hashable, max_len: int, k: int = 1, *, min_match: int = 1
    ) -> list[Continuation]:
        """:meth:`continuations` of indexed sequence ``seq_id``'s own tokens so far.

        The same as ``continuations(sequence(seq_id), max_len, k, min_match=min_match)``
        without copying the sequence: what a request drafts from its own output when the
        index holds it.

        Examples
        --------
        >>> index = SuffixAutomaton()
        >>> index.extend("a", [1, 2, 3, 4])
        >>> index.extend("b", [9, 1, 2])
        >>> [c.tokens for c in index.continuations_of("b", max_len=2)]
        [(3, 4)]
        """
        s = self._known(seq_id)
        max_len = _check_count(max_len, "max_len", 1)
        k = _check_count(k, "k", 1)
        min_match = _check_count(min_match, "min_match", 1)
        return self._continuations(self._seqs[s], max_len, k, -1, min_match)

    def _continuations(
        self, context: Sequence[int], max_len: int, k: int, ex: int, min_match: int
    ) -> list[Continuation]:
        v, length = self._match(context, ex, True)
        if length < min_match:
            return []
        nxt = self._next
        out: list[Continuation] = []
        frontier: list[tuple[int, int, tuple[int, ...], tuple[int, ...], int]] = []
        start: tuple[tuple[int, ...], tuple[int, ...], int] = ((), (), v)
        while True:
            tokens, counts, state = start
            while len(tokens) < max_len:
                best = -1
                best_n, best_t = 0, -1
                options = []
                for t, w in nxt[state].items():
                    n = self._occurrences(w, ex)
                    if n <= 0:
                        continue
                    if n > best_n or (n == best_n and t < best_t):
                        best, best_n, best_t = w, n, t
                    if k > 1:
                        options.append((t, w, n))
                if best < 0:
                    break
                for t, w, n in options:
                    if t != best_t:
                        heapq.heappush(
                            frontier, (-n, len(tokens) + 1, (*tokens, t), (*counts, n), w)
                        )
                tokens, counts, state = (*tokens, best_t), (*counts, best_n), best
            out.append(Continuation(tokens, counts))
            if len(out) >= k or not frontier:
                return out
            _, _, tokens, counts, state = heapq.heappop(frontier)
            start = (tokens, counts, state)
