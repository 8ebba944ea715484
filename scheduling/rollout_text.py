"""Real sibling outputs (many samples per prompt) as token ids, and a calibrated generator.

Grouped speculative decoding drafts a request's next tokens from its siblings' outputs,
so its acceptance length depends on how much text the samples of one prompt share. The
three public data sets under ``../shared/data/rollout`` (see the README there) hold real
groups of sampled completions:

==========  ============================================  =========  ==================
name        file                                          groups     model, sampling
==========  ============================================  =========  ==================
codet       codet_humaneval_codegen16b_n100.jsonl         164 x 100  CodeGen-16B, T=0.8
pot         pot_aqua_davinci002_n30.jsonl                 253 x 30   code-davinci-002, T=0.3
tot_text    tot_text_gpt4_cot_n10.json                    100 x 10   GPT-4, T=1.0
==========  ============================================  =========  ==================

:func:`load_rollout` parses one of them (skipping and counting the known dirty rows,
raising a ValueError that names the file and line for anything else malformed) and
tokenizes the samples with the GPT-2 byte-level BPE shipped next to the data
(:func:`gpt2_encoding`, offline, through ``tiktoken``).

:func:`synthetic_groups` draws token groups without the data; see its docstring for the
copy model and what it is calibrated to.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from matching._validate import check_int, check_real
from matching.families import as_generator
from scheduling.roads import default_data_dir

__all__ = [
    "DATASETS",
    "GPT2_PATTERN",
    "RolloutGroups",
    "gpt2_encoding",
    "load_rollout",
    "rollout_dir",
    "synthetic_groups",
]

#: File of each data set, relative to :func:`rollout_dir`.
DATASETS: dict[str, str] = {
    "codet": "codet_humaneval_codegen16b_n100.jsonl",
    "pot": "pot_aqua_davinci002_n30.jsonl",
    "tot_text": "tot_text_gpt4_cot_n10.json",
}

#: GPT-2's pre-tokenizer split pattern (its ``encoder.py``).
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

_END_OF_TEXT = 50256


def rollout_dir(data_dir: str | Path | None = None) -> Path:
    """Return the ``rollout`` folder of the shared data (default ``../shared/data/rollout``).

    Examples
    --------
    >>> rollout_dir("/data").as_posix()
    '/data/rollout'
    """
    return (default_data_dir() if data_dir is None else Path(data_dir)) / "rollout"


@lru_cache(maxsize=4)
def _encoding(path: Path) -> Any:
    try:
        import tiktoken
        import tiktoken.load
    except ImportError as err:  # pragma: no cover - tiktoken is a dependency
        raise ImportError("the GPT-2 tokenizer needs tiktoken: pip install tiktoken") from err
    if not path.is_file():
        raise FileNotFoundError(f"GPT-2 BPE ranks not found at {path}")
    ranks = tiktoken.load.load_tiktoken_bpe(str(path))
    return tiktoken.Encoding(
        name="gpt2-offline",
        pat_str=GPT2_PATTERN,
        mergeable_ranks=ranks,
        special_tokens={"<|endoftext|>": _END_OF_TEXT},
        explicit_n_vocab=_END_OF_TEXT + 1,
    )


def gpt2_encoding(path: str | Path | None = None) -> Any:
    """GPT-2's byte-level BPE as a ``tiktoken.Encoding``, built offline (cached).

    Parameters
    ----------
    path : str or Path, optional
        The ``gpt2.tiktoken`` rank file; default ``rollout/tokenizer/gpt2.tiktoken`` of
        the shared data.

    Examples
    --------
    >>> ranks = rollout_dir() / "tokenizer" / "gpt2.tiktoken"
    >>> enc = gpt2_encoding(ranks) if ranks.is_file() else None  # the data may be absent
    >>> enc is None or enc.encode_ordinary("def f(x):") == [4299, 277, 7, 87, 2599]
    True
    """
    path = rollout_dir() / "tokenizer" / "gpt2.tiktoken" if path is None else Path(path)
    return _encoding(path.resolve())


@dataclass(frozen=True)
class RolloutGroups:
    """Groups of sampled outputs, one group per prompt, as text and as GPT-2 token ids.

    Attributes
    ----------
    name : str
        Data set name (a key of :data:`DATASETS`).
    path : Path
        The file read.
    prompt_ids : tuple of int
        Positions of the loaded groups among the file's valid groups.
    prompts : tuple of str
        Each loaded group's prompt (codet: the prompt, pot: the question, tot_text: the
        entry's ``idx``).
    texts : tuple of tuple of str
        The samples of each loaded group.
    groups : list of list of numpy.ndarray
        The samples' GPT-2 token ids (``int64``), one array per sample.
    n_groups : int
        Valid groups in the file.
    skipped_lines : tuple of int
        Line numbers (1-based) of the dirty rows skipped.
    """

    name: str
    path: Path
    prompt_ids: tuple[int, ...]
    prompts: tuple[str, ...]
    texts: tuple[tuple[str, ...], ...]
    groups: list[list[np.ndarray]]
    n_groups: int
    skipped_lines: tuple[int, ...]

    @property
    def skipped(self) -> int:
        """Dirty rows skipped."""
        return len(self.skipped_lines)

    @property
    def group_sizes(self) -> tuple[int, ...]:
        """Samples per loaded group."""
        return tuple(len(g) for g in self.groups)


def _fail(path: Path, where: str, what: str) -> ValueError:
    return ValueError(f"{path}:{where}: {what}")


def _strings(value: object, path: Path, where: str, field: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise _fail(path, where, f"{field!r} must be a non-empty list of strings")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise _fail(path, where, f"{field!r}[{i}] is {type(item).__name__}, not a string")
    return tuple(value)


def _json_lines(path: Path) -> list[tuple[int, dict]]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise _fail(path, str(lineno), f"invalid JSON ({err.msg})") from None
            if not isinstance(row, dict):
                raise _fail(path, str(lineno), "expected a JSON object")
            rows.append((lineno, row))
    return rows


def _parse_codet(path: Path) -> tuple[list[tuple[str, tuple[str, ...]]], list[int]]:
    groups = []
    for lineno, row in _json_lines(path):
        prompt = row.get("prompt")
        if not isinstance(prompt, str):
            raise _fail(path, str(lineno), "missing string field 'prompt'")
        groups.append((prompt, _strings(row.get("samples"), path, str(lineno), "samples")))
    return groups, []


def _parse_pot(path: Path) -> tuple[list[tuple[str, tuple[str, ...]]], list[int]]:
    groups, skipped = [], []
    for i, (lineno, row) in enumerate(_json_lines(path)):
        if "generated" not in row:
            if i == 0 and "demonstration" in row:
                continue  # the header: the few-shot prompt shared by all questions
            skipped.append(lineno)  # known dirty rows (a repeated header): no samples
            continue
        question = row.get("question")
        if not isinstance(question, str):
            raise _fail(path, str(lineno), "missing string field 'question'")
        groups.append((question, _strings(row["generated"], path, str(lineno), "generated")))
    return groups, skipped


def _parse_tot(path: Path) -> tuple[list[tuple[str, tuple[str, ...]]], list[int]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise _fail(path, str(err.lineno), f"invalid JSON ({err.msg})") from None
    if not isinstance(data, list):
        raise _fail(path, "1", "expected a JSON list of entries")
    groups = []
    for i, entry in enumerate(data):
        where = f"entry {i}"
        if not isinstance(entry, dict):
            raise _fail(path, where, "expected a JSON object")
        groups.append((str(entry.get("idx", i)), _strings(entry.get("ys"), path, where, "ys")))
    return groups, []


_PARSERS = {"codet": _parse_codet, "pot": _parse_pot, "tot_text": _parse_tot}


def load_rollout(
    name: str,
    *,
    data_dir: str | Path | None = None,
    select: Sequence[int] | None = None,
    tokenizer: str | Path | None = None,
) -> RolloutGroups:
    """Load one data set's groups and tokenize them with GPT-2's BPE.

    Parameters
    ----------
    name : {"codet", "pot", "tot_text"}
    data_dir : str or Path, optional
        The shared data folder (holding ``rollout/``); default ``../shared/data``.
    select : sequence of int, optional
        Which valid groups to load (positions in the file's order); default all.
        Parsing reads the whole file; only the selected groups are tokenized.
    tokenizer : str or Path, optional
        The ``gpt2.tiktoken`` rank file; default the one under ``rollout/tokenizer``.

    Returns
    -------
    RolloutGroups

    Raises
    ------
    FileNotFoundError
        The data file (or the tokenizer) is absent.
    ValueError
        Malformed data, naming the file and line (or JSON list entry).

    Notes
    -----
    Skipped, and counted in ``skipped_lines``: pot's rows without ``generated`` after its
    header line (two in the published file). Everything else that does not have the
    documented format raises. Samples that are empty strings stay (as empty arrays).

    Examples
    --------
    >>> present = (rollout_dir() / DATASETS["pot"]).is_file()  # the data may be absent
    >>> data = load_rollout("pot", select=[0, 1]) if present else None
    >>> data is None or (data.n_groups, data.group_sizes, data.skipped_lines) == (
    ...     253, (30, 30), (62, 168))
    True
    """
    if name not in DATASETS:
        raise ValueError(f"unknown rollout data set {name!r}; choose one of {sorted(DATASETS)}")
    path = rollout_dir(data_dir) / DATASETS[name]
    if not path.is_file():
        raise FileNotFoundError(f"rollout data {name!r} not found at {path}")
    parsed, skipped = _PARSERS[name](path)
    if select is None:
        ids = list(range(len(parsed)))
    else:
        ids = [check_int(i, "select entries", low=0) for i in select]
        bad = [i for i in ids if i >= len(parsed)]
        if bad:
            raise ValueError(f"select has group {bad[0]}, but {path.name} has {len(parsed)}")
    if tokenizer is None:
        encoding = gpt2_encoding(rollout_dir(data_dir) / "tokenizer" / "gpt2.tiktoken")
    else:
        encoding = gpt2_encoding(tokenizer)
    groups = []
    for i in ids:
        encoded = encoding.encode_ordinary_batch(list(parsed[i][1]))
        groups.append([np.asarray(t, dtype=np.int64) for t in encoded])
    return RolloutGroups(
        name=name,
        path=path,
        prompt_ids=tuple(ids),
        prompts=tuple(parsed[i][0] for i in ids),
        texts=tuple(parsed[i][1] for i in ids),
        groups=groups,
        n_groups=len(parsed),
        skipped_lines=tuple(skipped),
    )


# ---------------------------------------------------------------------- generator
def synthetic_groups(
    n_groups: int,
    group_size: int,
    *,
    mean_tokens: float = 86.0,
    length_cv: float = 1.1,
    copy_prob: float = 0.3,
    self_prob: float = 0.9,
    mean_copy: float = 10.0,
    mean_novel: float = 3.0,
    local_vocab: int = 5000,
    zipf: float = 0.3,
    vocab: int = 50257,
    seed: int | np.random.Generator | None = 0,
) -> list[list[np.ndarray]]:
    """Draw groups of token streams whose siblings share segments (a copy model).

    Each group has a *reference* stream (the typical answer to its prompt, as long as
    the median sample) and a local vocabulary of ``local_vocab`` distinct token ids from
    ``0 .. vocab - 1``, drawn with Zipf weights of exponent ``zipf``. A sample is a
    sequence of runs; each run is

    * with probability ``copy_prob``, a copy of the reference from the sample's current
      position in it (the segments siblings share); past the reference's end the
      position restarts at a uniformly drawn place (long samples repeat material);
    * else with probability ``self_prob``, a copy of the sample's own earlier output
      from a uniformly drawn start (repetition inside one output, such as similar lines
      of code: what drafting from a request's own output finds);
    * else novel tokens from the local vocabulary, after which the position in the
      reference moves on by an independent ``Geometric(1 / mean_novel) - 1`` tokens, so
      siblings drift apart and one may be ahead of another in the shared material.

    Copy runs have ``Geometric`` lengths with mean ``mean_copy``, novel runs mean
    ``mean_novel``. Sample lengths are log-normal with mean ``mean_tokens`` and
    coefficient of variation ``length_cv`` (at least one token).

    The defaults are calibrated to the codet data (CodeGen-16B on HumanEval, T=0.8, 100
    samples per prompt, mean 86 GPT-2 tokens, length CV 1.1 over all samples): with 100
    samples per group and single-path drafting of ``g = 8`` tokens in lockstep
    (:func:`scheduling.spec_decode.simulate_speculation`), the pooled acceptance length
    on codet (all 164 prompts) is 1.87 from a request's own output alone, 2.28 with 15
    siblings and 2.53 with 99; ten generated groups give 1.90, 2.33 and 2.59 (mean of
    seeds 0 and 1). ``benchmarks/spec_acceptance.py`` prints both side by side.
    ``copy_prob`` is the overlap knob (lower values shrink the gain from siblings) and
    ``self_prob`` sets the self-only level. Not matched: codet's long samples are more
    repetitive than its short ones (here repetition does not depend on length), and
    real token frequencies.

    Parameters
    ----------
    n_groups, group_size : int
        Groups (prompts) and samples per group (>= 1 each).
    mean_tokens, length_cv : float
        Mean (>= 1) and coefficient of variation (>= 0) of a sample's length.
    copy_prob, self_prob : float
        Probabilities (0..1) that a run copies the reference, else the sample itself.
    mean_copy, mean_novel : float
        Mean run lengths (>= 1).
    local_vocab : int
        Distinct tokens of a group (1..vocab).
    zipf : float
        Zipf exponent of the local token frequencies (>= 0).
    vocab : int
        Token ids are in ``0 .. vocab - 1``.
    seed : int or numpy.random.Generator, default 0

    Returns
    -------
    list of list of numpy.ndarray
        ``n_groups`` groups of ``group_size`` ``int64`` token arrays.

    Examples
    --------
    >>> groups = synthetic_groups(2, 3, mean_tokens=20, seed=1)
    >>> len(groups), [len(g) for g in groups]
    (2, [3, 3])
    >>> all(int(t.min()) >= 0 and int(t.max()) < 50257 for g in groups for t in g)
    True
    >>> same = synthetic_groups(2, 3, mean_tokens=20, seed=1)
    >>> all(np.array_equal(a, b) for g, h in zip(groups, same) for a, b in zip(g, h))
    True
    """
    n_groups = check_int(n_groups, "n_groups", low=1)
    group_size = check_int(group_size, "group_size", low=1)
    mean_tokens = check_real(mean_tokens, "mean_tokens", low=1.0)
    length_cv = check_real(length_cv, "length_cv", low=0.0)
    copy_prob = check_real(copy_prob, "copy_prob", low=0.0, high=1.0)
    self_prob = check_real(self_prob, "self_prob", low=0.0, high=1.0)
    mean_copy = check_real(mean_copy, "mean_copy", low=1.0)
    mean_novel = check_real(mean_novel, "mean_novel", low=1.0)
    vocab = check_int(vocab, "vocab", low=1)
    local_vocab = check_int(local_vocab, "local_vocab", low=1, high=vocab)
    zipf = check_real(zipf, "zipf", low=0.0)
    rng = as_generator(seed)
    sigma2 = float(np.log1p(length_cv**2))
    mu = float(np.log(mean_tokens)) - sigma2 / 2
    weights = 1.0 / np.arange(1, local_vocab + 1) ** zipf
    weights /= weights.sum()
    self_cut = copy_prob + (1.0 - copy_prob) * self_prob
    groups = []
    for _ in range(n_groups):
        local = rng.choice(vocab, size=local_vocab, replace=False)
        lengths = np.maximum(
            1, np.round(np.exp(rng.normal(mu, np.sqrt(sigma2), size=group_size)))
        ).astype(np.int64)
        reference = local[rng.choice(local_vocab, size=int(np.exp(mu)) + 1, p=weights)].tolist()
        group = []
        for length in lengths.tolist():
            out: list[int] = []
            pos = 0
            while len(out) < length:
                u = rng.random()
                if u < copy_prob:
                    run = int(rng.geometric(1.0 / mean_copy))
                    if pos >= len(reference):
                        pos = int(rng.integers(len(reference)))
                    out.extend(reference[pos : pos + run])
                    pos += run
                elif u < self_cut and out:
                    run = int(rng.geometric(1.0 / mean_copy))
                    start = int(rng.integers(len(out)))
                    out.extend(out[start : start + run])
                else:
                    run = int(rng.geometric(1.0 / mean_novel))
                    out.extend(local[rng.choice(local_vocab, size=run, p=weights)].tolist())
                    pos += int(rng.geometric(1.0 / mean_novel)) - 1
            group.append(np.asarray(out[:length], dtype=np.int64))
        groups.append(group)
    return groups
