"""An LLM serving instance as a cost model: GPU and model presets, paged KV cache, roofline.

An :class:`Instance` is one model served on ``tp`` GPUs (tensor parallel). It answers the
questions a scheduler and a simulator ask of a serving engine with continuous batching:

* how many KV-cache tokens fit (paged, in blocks of ``block_size`` tokens)::

      kv_bytes    = tp * gpu.memory * memory_utilization - weights - activation_reserve
      kv_blocks   = floor(kv_bytes / (block_size * kv_bytes_per_token))
      kv_tokens   = kv_blocks * block_size

* how long one engine step takes, by a roofline: a step that prefills prompts of
  lengths ``L_i`` and decodes one token for sequences of contexts ``c_j`` costs::

      flops = 2 * params * (sum L_i + n_decode)                       (dense layers)
            + 2 * layers * heads * head_dim * (sum L_i^2 + 2 sum c_j)  (attention)
      bytes = weights + kv_bytes_per_token * (sum L_i + sum c_j + n_decode)
      time  = max(flops / (tp * peak_flops * compute_efficiency),
                  bytes / (tp * hbm_bandwidth * memory_efficiency))
            + step_overhead + tensor-parallel all-reduce time

  (the all-reduce moves ``2 * layers * hidden * tokens * 2 bytes * (tp - 1) / tp`` over
  NVLink per step). Attention of a prompt of length ``L`` counts its causal ``L^2 / 2``
  query-key pairs twice (scores and values), a decode step ``c`` pairs twice; a chunk of
  ``L`` prompt tokens after ``o`` cached ones (chunked prefill) adds ``2 L o`` to the
  attention term and reads its ``o`` cached tokens;

* how long it takes to swap ``n`` tokens of KV cache between GPU and CPU memory over
  PCIe, and to load the model's weights (from storage, or warm from CPU memory).

Presets: GPUs from their public data sheets (dense FP16/BF16 tensor throughput, HBM
bandwidth, host link), models from their published configurations, FP16 weights and KV.
Efficiencies and overheads are calibration knobs with documented defaults; the formulas
above are exact for the values given.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "GPU",
    "GPUS",
    "MODELS",
    "Instance",
    "ModelSpec",
    "gpu_preset",
    "model_preset",
]

GB = 1e9


@dataclass(frozen=True)
class GPU:
    """One GPU's data-sheet figures.

    Attributes
    ----------
    name : str
    memory_gb : float
        HBM/GDDR capacity (GB = 1e9 bytes).
    hbm_gb_s : float
        Memory bandwidth (GB/s).
    peak_tflops : float
        Dense FP16/BF16 tensor throughput (TFLOP/s, no sparsity).
    pcie_gb_s : float
        Host link bandwidth per direction (GB/s): KV swaps and warm model loads.
    nvlink_gb_s : float
        GPU-to-GPU bandwidth per GPU (GB/s) for tensor-parallel all-reduce.
    """

    name: str
    memory_gb: float
    hbm_gb_s: float
    peak_tflops: float
    pcie_gb_s: float
    nvlink_gb_s: float


#: Data-sheet presets (dense FP16 tensor TFLOP/s; A10 has no NVLink: PCIe between GPUs).
GPUS: dict[str, GPU] = {
    "a10": GPU("A10", 24.0, 600.0, 125.0, 32.0, 32.0),
    "a100-80gb": GPU("A100-80GB", 80.0, 2039.0, 312.0, 32.0, 600.0),
    "h100": GPU("H100-SXM", 80.0, 3350.0, 989.0, 64.0, 900.0),
    "h800": GPU("H800-SXM", 80.0, 3350.0, 989.0, 64.0, 400.0),
}

_GPU_ALIASES = {"a100": "a100-80gb", "a100-80g": "a100-80gb", "h100-sxm": "h100"}


@dataclass(frozen=True)
class ModelSpec:
    """A decoder-only transformer's shape (FP16 weights and KV cache).

    Attributes
    ----------
    name : str
    params_b : float
        Parameters (billions).
    layers, hidden, heads, kv_heads, head_dim : int
        ``kv_heads < heads`` is grouped-query attention.
    bytes_per_value : int
        2 for FP16/BF16.
    """

    name: str
    params_b: float
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    bytes_per_value: int = 2

    @property
    def weight_bytes(self) -> float:
        """Bytes of weights."""
        return self.params_b * 1e9 * self.bytes_per_value

    @property
    def kv_bytes_per_token(self) -> int:
        """Bytes of K and V cached per token: ``2 * layers * kv_heads * head_dim * bytes``.

        Examples
        --------
        >>> model_preset("mistral-7b").kv_bytes_per_token  # 2 * 32 * 8 * 128 * 2
        131072
        """
        return 2 * self.layers * self.kv_heads * self.head_dim * self.bytes_per_value


#: Published configurations (Hugging Face ``config.json`` of each model).
MODELS: dict[str, ModelSpec] = {
    "mistral-7b": ModelSpec("Mistral-7B", 7.24, 32, 4096, 32, 8, 128),
    "vicuna-13b": ModelSpec("Vicuna-13B", 13.0, 40, 5120, 40, 40, 128),
    "llama-2-70b": ModelSpec("Llama-2-70B", 69.0, 80, 8192, 64, 8, 128),
    "codellama-34b": ModelSpec("CodeLlama-34B", 33.7, 48, 8192, 64, 8, 128),
}

_MODEL_ALIASES = {"llama-70b": "llama-2-70b", "llama2-70b": "llama-2-70b"}


def _lookup(table: dict, aliases: dict[str, str], name: str, what: str):
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a preset name, got {name!r}")
    key = name.strip().lower()
    key = aliases.get(key, key)
    if key not in table:
        raise ValueError(f"unknown {what} {name!r}; presets: {sorted(table)}")
    return table[key]


def gpu_preset(name: str) -> GPU:
    """Return the GPU preset ``name`` (case-insensitive; ``"a100"`` is the 80 GB A100).

    Examples
    --------
    >>> gpu_preset("A100").memory_gb
    80.0
    """
    return _lookup(GPUS, _GPU_ALIASES, name, "GPU")


def model_preset(name: str) -> ModelSpec:
    """Return the model preset ``name`` (case-insensitive).

    Examples
    --------
    >>> model_preset("CodeLlama-34B").layers
    48
    """
    return _lookup(MODELS, _MODEL_ALIASES, name, "model")


def _positive(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Instance:
    """One serving instance: ``model`` on ``tp`` GPUs (see the module docstring).

    Parameters
    ----------
    model : ModelSpec or str
    gpu : GPU or str
    tp : int
        Tensor-parallel degree (GPUs per instance).
    block_size : int, default 16
        Tokens per KV-cache block (vLLM's default).
    memory_utilization : float, default 0.9
        Share of GPU memory the engine may use (vLLM's ``gpu_memory_utilization``).
    activation_reserve_gb : float, default 2.0
        Per-GPU memory kept for activations and the CUDA context.
    compute_efficiency, memory_efficiency : float, default 0.6 and 0.8
        Achieved share of peak FLOP/s and of HBM bandwidth.
    step_overhead_s : float, default 0.004
        Fixed cost per engine step (scheduling, kernel launches, sampling).
    cold_load_gb_s : float, default 2.0
        Bandwidth for loading weights from storage (a cold model start).

    Raises
    ------
    ValueError
        When the weights leave no room for a single KV block.

    Examples
    --------
    >>> inst = Instance("codellama-34b", "a100", tp=2)
    >>> inst.kv_tokens  # 72.6 GB in 23,078 blocks of 16 x 196,608 bytes
    369248
    >>> round(inst.step_time(decode_contexts=[1000] * 8), 4)  # memory-bound decode
    0.0252
    """

    model: ModelSpec | str
    gpu: GPU | str
    tp: int = 1
    block_size: int = 16
    memory_utilization: float = 0.9
    activation_reserve_gb: float = 2.0
    compute_efficiency: float = 0.6
    memory_efficiency: float = 0.8
    step_overhead_s: float = 0.004
    cold_load_gb_s: float = 2.0

    def __post_init__(self) -> None:
        if isinstance(self.model, str):
            object.__setattr__(self, "model", model_preset(self.model))
        if isinstance(self.gpu, str):
            object.__setattr__(self, "gpu", gpu_preset(self.gpu))
        if not isinstance(self.model, ModelSpec):
            raise TypeError(f"model must be a ModelSpec or preset name, got {self.model!r}")
        if not isinstance(self.gpu, GPU):
            raise TypeError(f"gpu must be a GPU or preset name, got {self.gpu!r}")
        for name in ("tp", "block_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if not 0 < self.memory_utilization <= 1:
            raise ValueError(
                f"memory_utilization must lie in (0, 1], got {self.memory_utilization!r}"
            )
        for name in ("compute_efficiency", "memory_efficiency"):
            value = _positive(getattr(self, name), name)
            if value > 1:
                raise ValueError(f"{name} must be at most 1, got {value!r}")
        _positive(self.cold_load_gb_s, "cold_load_gb_s")
        if not (self.activation_reserve_gb >= 0 and self.step_overhead_s >= 0):
            raise ValueError("activation_reserve_gb and step_overhead_s must be >= 0")
        if self.kv_blocks < 1:
            raise ValueError(
                f"{self.model.name} ({self.model.weight_bytes / GB:.1f} GB of weights) does "
                f"not fit on {self.tp} x {self.gpu.name} with room for one KV block: "
                f"{self.kv_bytes / GB:.2f} GB left; raise tp"
            )

    # ------------------------------------------------------------------ memory
    @property
    def kv_bytes(self) -> float:
        """Bytes left for the KV cache."""
        usable = self.tp * self.gpu.memory_gb * GB * self.memory_utilization
        return usable - self.model.weight_bytes - self.tp * self.activation_reserve_gb * GB

    @property
    def kv_blocks(self) -> int:
        """KV-cache blocks."""
        per_block = self.block_size * self.model.kv_bytes_per_token
        return max(0, math.floor(self.kv_bytes / per_block))

    @property
    def kv_tokens(self) -> int:
        """KV-cache capacity in tokens (whole blocks)."""
        return self.kv_blocks * self.block_size

    def blocks_for(self, tokens: int) -> int:
        """Blocks a sequence of ``tokens`` tokens occupies (``ceil(tokens / block_size)``).

        Examples
        --------
        >>> Instance("mistral-7b", "a100").blocks_for(17)
        2
        """
        if tokens < 0:
            raise ValueError(f"tokens must be >= 0, got {tokens}")
        return -(-int(tokens) // self.block_size)

    # ------------------------------------------------------------------ time
    def step_time(
        self,
        prefill_lengths: Sequence[int] = (),
        decode_contexts: Sequence[int] = (),
        prefill_offsets: Sequence[int] = (),
    ) -> float:
        """Seconds for one engine step (see the module docstring).

        Parameters
        ----------
        prefill_lengths : sequence of int
            Prompt (or prompt chunk) lengths prefilled in this step.
        decode_contexts : sequence of int
            Context length of each sequence decoding one token in this step.
        prefill_offsets : sequence of int, optional
            For chunked prefill: tokens of each prefilled sequence already in the KV
            cache before its chunk (default 0 each). A chunk of ``L`` tokens after ``o``
            attends to ``L o + L^2 / 2`` query-key pairs, so its attention term is
            ``L^2 + 2 L o``, and its ``o`` cached tokens are read once.

        Examples
        --------
        >>> inst = Instance("mistral-7b", "a100")
        >>> inst.step_time() == 0.0  # an empty step costs nothing
        True
        >>> round(inst.step_time(prefill_lengths=[2048]), 4)  # compute-bound prefill
        0.1683
        """
        pre = [int(x) for x in prefill_lengths]
        dec = [int(x) for x in decode_contexts]
        off = [int(x) for x in prefill_offsets] if len(prefill_offsets) else [0] * len(pre)
        if any(x < 1 for x in pre) or any(x < 0 for x in dec):
            raise ValueError("prefill lengths must be >= 1 and decode contexts >= 0")
        if len(off) != len(pre) or any(x < 0 for x in off):
            raise ValueError("prefill_offsets needs one value >= 0 per prefill length")
        tokens = sum(pre) + len(dec)
        if tokens == 0:
            return 0.0
        m = self.model
        pairs = sum(x * x + 2 * x * o for x, o in zip(pre, off, strict=True)) + 2 * sum(dec)
        flops = 2 * m.params_b * 1e9 * tokens + 2 * m.layers * m.heads * m.head_dim * pairs
        kv_tokens = sum(pre) + sum(off) + sum(dec) + len(dec)
        bytes_moved = m.weight_bytes + m.kv_bytes_per_token * kv_tokens
        compute = flops / (self.tp * self.gpu.peak_tflops * 1e12 * self.compute_efficiency)
        memory = bytes_moved / (self.tp * self.gpu.hbm_gb_s * GB * self.memory_efficiency)
        return max(compute, memory) + self.step_overhead_s + self.allreduce_time(tokens)

    def prefill_compute_time(self, prompt: int) -> float:
        """Seconds of compute to prefill a ``prompt``-token prompt (no weight reads).

        The compute term of :meth:`step_time` for that prompt alone: what adding it to
        a step that reads the weights anyway costs when compute is the bottleneck.

        Examples
        --------
        >>> round(Instance("mistral-7b", "a100").prefill_compute_time(1000), 4)
        0.0788
        """
        if prompt < 0:
            raise ValueError(f"prompt must be >= 0, got {prompt}")
        m = self.model
        flops = 2 * m.params_b * 1e9 * prompt + 2 * m.layers * m.heads * m.head_dim * prompt**2
        return flops / (self.tp * self.gpu.peak_tflops * 1e12 * self.compute_efficiency)

    def allreduce_time(self, tokens: int) -> float:
        """Tensor-parallel all-reduce seconds for a step of ``tokens`` tokens (0 at tp 1)."""
        if self.tp == 1:
            return 0.0
        m = self.model
        volume = 2 * m.layers * m.hidden * tokens * m.bytes_per_value * (self.tp - 1) / self.tp
        return volume / (self.gpu.nvlink_gb_s * GB)

    def swap_time(self, tokens: int) -> float:
        """Seconds to move ``tokens`` tokens of KV cache between GPU and CPU (one way).

        Examples
        --------
        >>> round(Instance("mistral-7b", "a100").swap_time(10_000), 4)  # 1.31 GB / 32 GB/s
        0.041
        """
        if tokens < 0:
            raise ValueError(f"tokens must be >= 0, got {tokens}")
        return tokens * self.model.kv_bytes_per_token / (self.tp * self.gpu.pcie_gb_s * GB)

    def model_load_time(self, *, warm: bool = False) -> float:
        """Seconds to load the weights: from storage, or ``warm`` from CPU memory (PCIe).

        Examples
        --------
        >>> inst = Instance("vicuna-13b", "a100")
        >>> round(inst.model_load_time(), 1), round(inst.model_load_time(warm=True), 2)
        (13.0, 0.81)
        """
        if warm:
            return self.model.weight_bytes / (self.tp * self.gpu.pcie_gb_s * GB)
        return self.model.weight_bytes / (self.cold_load_gb_s * GB)

    def describe(self) -> str:
        """One line: model, GPUs, KV capacity."""
        return (
            f"{self.model.name} on {self.tp} x {self.gpu.name}: {self.kv_tokens:,} KV tokens "
            f"in {self.kv_blocks:,} blocks of {self.block_size}"
        )
