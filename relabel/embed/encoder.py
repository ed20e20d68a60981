"""The encoder shell: a Hugging Face model that turns texts into L2-normalised vectors (the
on-disk cache and the sharded encoding of a dataset are in :mod:`relabel.embed.cache`).

Representation: mean of the last hidden states over non-padding tokens, then L2 normalisation,
    e_i = m_i / ||m_i||,   m_i = sum_t a_it h_it / sum_t a_it
(a_it the attention mask). This is how all-MiniLM-L6-v2 was trained to be used.

Long texts (``max_windows > 1``, mean pooling): a text longer than ``max_length`` tokens is cut
into consecutive windows of ``max_length`` tokens (special tokens included, no overlap), at most
``max_windows`` of them; each window is encoded as above and the text's vector is the mean of
its window vectors weighted by their token counts, normalised again,
    e_i = v_i / ||v_i||,   v_i = sum_w n_w e_w / sum_w n_w.
With ``max_windows = 1`` (the default) a text is truncated to its first ``max_length`` tokens.

Other models are pooled as they were trained (:func:`relabel.embed.model.sentence_pooling`),
then passed through their sentence-transformers Dense modules, if any
(:func:`relabel.embed.model.sentence_dense`), before the normalisation; with entity pooling the
two entity token states go through the same modules. Finding and loading a model is
:mod:`relabel.embed.model`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from relabel.config import (
    DEFAULT_MAX_LENGTH,
    DEFAULT_MAX_WINDOWS,
    DEFAULT_PRECISION,
    POOLINGS,
)
from relabel.embed.model import (  # noqa: F401 (default_model_path: imported from here too)
    _model_identity,
    default_model_path,
    dense_folders,
    load_pretrained,
    resolve_model,
    sentence_dense,
    sentence_pooling,
    sentence_prompt,
)
from relabel.embed.precision import resolve_precision
from relabel.errors import RelabelInputError, option

#: texts per forward pass when not given: on the CPU, and on a CUDA GPU, where a batch also
#: holds at most GPU_TOKENS_PER_BATCH tokens (padding included). MiniLM-L6 on an H200, 100k
#: banking77 texts: 12.8k texts/s with 256 per batch, 18.0k with 512, 21.3k with 1024, 26.8k
#: with 2048 (bench/gpu_check.py); the token cap keeps long texts in smaller batches.
DEFAULT_BATCH_SIZE = 64
DEFAULT_GPU_BATCH_SIZE = 2048
GPU_TOKENS_PER_BATCH = 2048 * 64


class TextEncoder(Protocol):
    """What the pipeline needs of an encoder (the real one, or a fake one in tests)."""

    @property
    def key(self) -> str:
        """A string that changes whenever the vectors for the same text would change."""

    def encode(self, texts: Sequence[str], *, progress: Any = None) -> np.ndarray:
        """Return ``(N, D)`` float32 L2-normalised vectors, row i for ``texts[i]``."""


def _token_at(offsets: Sequence[tuple[int, int]], char: int) -> int:
    """Index of the first non-special token starting at or after ``char``; -1 if truncated."""
    for i, (a, b) in enumerate(offsets):
        if b > a and a >= char:
            return i
    return -1


def cpu_streams() -> int:
    """Forward passes run side by side on a CPU: one per torch thread (the cores torch uses),
    each pass on one core. On this 2-core machine two single-threaded passes encode 582
    texts/s against 445 for one pass on two threads (bf16, bench/RESULTS.md, issue 19): small
    matrices scale poorly across cores, independent batches do not share anything.
    ``RELABEL_CPU_STREAMS`` overrides it (1 = one pass at a time on every thread)."""
    import torch

    value = os.environ.get("RELABEL_CPU_STREAMS", "")
    if value.strip().isdigit() and int(value) >= 1:
        return int(value)
    return max(1, torch.get_num_threads())


class Encoder:
    """A ``transformers`` AutoModel with its own pooling (mean, unless a sentence-transformers
    config says otherwise: :func:`sentence_pooling`) and L2 normalisation.

    Parameters
    ----------
    model : str, optional
        Hugging Face hub id or local directory; default: the packaged all-MiniLM-L6-v2.
    batch_size : int, optional
        Texts per forward pass (default 64 on the CPU; on a GPU at most 2048 texts and 131,072
        tokens). Batches are formed from texts of similar token length.
    max_length : int
        Tokens kept per text (longer texts are truncated).
    device : str, optional
        ``"cuda"`` or ``"cpu"``; default: CUDA when available. On a GPU with bfloat16 the
        weights are cast to bfloat16 (pooling and normalisation stay in float32).
    precision : {"auto", "fp32", "bf16", "int8"}
        CPU inference precision. bf16 keeps the weights in bfloat16 (the pooling and
        normalisation stay in float32). ``auto`` (the default) runs bf16 where the CPU has
        native bf16 *and* a probe on this machine finds it at least ``AUTO_MIN_SPEEDUP`` times
        as fast as fp32 with every probe vector's cosine to fp32 at least ``AUTO_MIN_COSINE``
        (:meth:`_probe_bf16`), else fp32. int8 dynamically quantises the linear layers; it is
        opt-in, because it moves some vectors far (minimum cosine to fp32 0.72 to 0.89 on the
        development sets, bench/RESULTS.md). The cache key names any precision other than
        fp32.
    pooling : str
        ``"mean"``: the mean of the last hidden states. ``"entity"`` (relation extraction): the
        inputs are packed by :func:`relabel.data.relation.encoder_inputs`, and the vector is the
        hidden
        states at the head and tail markers and the mean, each L2-normalised, concatenated
        ``(N, 3 D)`` and normalised again (a marker cut off by ``max_length`` falls back to the
        mean).
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        batch_size: int | None = None,
        max_length: int = DEFAULT_MAX_LENGTH,
        device: str | None = None,
        pooling: str = "mean",
        max_windows: int = DEFAULT_MAX_WINDOWS,
        precision: str = DEFAULT_PRECISION,
    ) -> None:
        if pooling not in POOLINGS:
            raise RelabelInputError(f"{option('--pooling')} must be one of {', '.join(POOLINGS)}, "
                                    f"got {pooling!r}")
        if max_windows < 1:
            raise RelabelInputError(f"{option('--max-windows')} must be at least 1, "
                                    f"got {max_windows}")
        self.max_windows = max_windows
        self.model = model
        self.batch_size = batch_size
        self.max_length = max_length
        self.device = device
        self.pooling = pooling
        self._resolved = resolve_model(model)
        self._requested = (batch_size, device)
        self.precision = precision
        if device is None:
            import torch

            device_guess = "cuda" if torch.cuda.is_available() else "cpu"
        else:
            device_guess = device
        candidate = resolve_precision(precision, device_guess)
        # auto with a bf16 candidate is settled by the probe when the model is loaded
        self._precision: str | None = (None if precision == "auto" and candidate == "bf16"
                                       else candidate)
        #: what the probe measured (``auto`` only): bf16 speed-up and minimum cosine
        self.precision_probe: dict[str, float] | None = None
        self._tokenizer: Any = None
        self._model: Any = None
        self._token_cap: int | None = None
        self._token_pooling: str | None = None
        #: the model's Dense modules after the pooling, as torch layers (``_load``)
        self._dense: Any = None
        #: how many Dense modules the model has and its default prompt, read once
        #: (:attr:`sentence_extras`)
        self._extras: tuple[int, str] | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the loaded model: a Dask worker loads its own, on its own device."""
        self.resolved_precision  # noqa: B018 (settled here, so every worker runs the same)
        state = dict(self.__dict__)
        state.update(_tokenizer=None, _model=None, _token_cap=None, _dense=None)
        state["batch_size"], state["device"] = state["_requested"]
        return state

    @property
    def resolved_precision(self) -> str:
        """The precision it runs at: fp32, bf16 or int8 (``auto`` is probed here once)."""
        if self._precision is None:
            self._load()
        assert self._precision is not None
        return self._precision

    @property
    def token_pooling(self) -> str:
        """How the token states make the sentence vector: the model's own sentence-transformers
        pooling (:func:`sentence_pooling`): mean, cls, max or lasttoken. A hub model is loaded
        first (which fetches its pooling config when it comes from the hub), so the answer is
        the same on the first run as on the next."""
        if self._token_pooling is None:
            if not Path(self._resolved).is_dir():
                self._load()
            self._token_pooling = sentence_pooling(self._resolved)
        return self._token_pooling

    @property
    def key(self) -> str:
        """Cache key: model identity, max length and pooling."""
        ident = _model_identity(self._resolved)
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in ident)
        windows = f"-w{self.max_windows}" if self.windowed else ""
        reduced = "" if self.resolved_precision == "fp32" else f"-{self.resolved_precision}"
        tokens = "" if self.token_pooling == "mean" else f"-{self.token_pooling}"
        n_dense, prompt = self.sentence_extras
        extra = f"-dense{n_dense}" if n_dense else ""
        if prompt:  # vectors of prompted texts are other vectors
            import hashlib

            extra += "-prompt" + hashlib.blake2b(prompt.encode(), digest_size=4).hexdigest()
        return f"{safe}-len{self.max_length}-{self.pooling}{tokens}{extra}{windows}{reduced}"

    @property
    def sentence_extras(self) -> tuple[int, str]:
        """How many sentence-transformers Dense modules follow the pooling, and the default
        prompt (``""``: none), read once (after :attr:`token_pooling`, which loads a hub model
        and so fetches its files)."""
        if self._extras is None:
            self.token_pooling  # noqa: B018
            self._extras = (len(dense_folders(self._resolved)), sentence_prompt(self._resolved))
        return self._extras

    @property
    def windowed(self) -> bool:
        """Long texts are encoded in several windows (mean pooling only)."""
        return self.max_windows > 1 and self.pooling == "mean"

    def _load(self) -> None:
        if self._model is not None:
            return
        import torch

        self._tokenizer, self._model = load_pretrained(self._resolved, self.model)
        dev = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.device = dev
        gpu = str(dev).startswith("cuda")
        self._token_cap = GPU_TOKENS_PER_BATCH if gpu and self.batch_size is None else None
        if self.batch_size is None:
            self.batch_size = DEFAULT_GPU_BATCH_SIZE if gpu else DEFAULT_BATCH_SIZE
        if self._precision is None:
            self._model.to(dev).eval()
            self._precision = self._probe_bf16()
        half = (gpu and torch.cuda.is_bf16_supported()) or (
            not gpu and self._precision == "bf16")
        self._model.to(dev, dtype=torch.bfloat16 if half else None).eval()
        if not gpu and self._precision == "int8":
            self._model = torch.ao.quantization.quantize_dynamic(
                self._model, {torch.nn.Linear}, dtype=torch.qint8)
        self._dense = _dense_modules(sentence_dense(self._resolved), dev)

    def _probe_bf16(self) -> str:
        """``auto`` on a CPU with native bf16: encode ``PROBE_TEXTS`` with the fp32 model and
        with a bf16 copy (best of 3 timed passes each, after a warm-up), and keep bf16 only if
        it is at least ``AUTO_MIN_SPEEDUP`` times as fast with every vector's cosine to fp32 at
        least ``AUTO_MIN_COSINE`` (:mod:`relabel.embed.precision`). About a second for MiniLM.

        The measurements are remembered per model, length and device for the process, and on
        disk per machine (CPU model, torch version and threads;
        :func:`relabel.embed.precision.probe_store`): the same command then encodes at the same
        precision on every run. Measured afresh each time, the choice followed the machine's
        load (a speed-up of 3.2 idle, 0.94 while a test suite ran), and the vectors' last
        digits, with them a borderline decision or two, followed the choice. Delete the file to
        measure again."""
        from relabel.embed.precision import machine_id, probed_precision

        chosen, self.precision_probe = probed_precision(
            (self._resolved, self.max_length, str(self.device)),
            f"{_model_identity(self._resolved)}|len {self.max_length}|{self.device}|"
            f"{machine_id()}",
            self._measure_bf16)
        return chosen

    def _measure_bf16(self) -> dict[str, float]:
        """bf16's speed-up over fp32 and its minimum cosine to fp32 on ``PROBE_TEXTS``."""
        import copy
        import time

        import torch

        from relabel.embed.precision import PROBE_TEXTS

        enc = self._tokenizer(list(PROBE_TEXTS), truncation=True, max_length=self.max_length,
                              padding=True, return_tensors="pt")

        def run(model: Any) -> tuple[np.ndarray, float]:
            best = float("inf")
            with torch.inference_mode():
                model(**enc)
                for _ in range(3):
                    t0 = time.perf_counter()
                    hidden = model(**enc).last_hidden_state.float()
                    best = min(best, time.perf_counter() - t0)
            m = enc["attention_mask"].unsqueeze(-1).float()
            pooled = torch.nn.functional.normalize((hidden * m).sum(1) / m.sum(1), dim=-1)
            return pooled.numpy(), best

        ref, t32 = run(self._model)
        low, t16 = run(copy.deepcopy(self._model).to(torch.bfloat16))
        speedup, min_cos = t32 / max(t16, 1e-9), float((ref * low).sum(1).min())
        return {"bf16_speedup": round(speedup, 3), "bf16_min_cosine": round(min_cos, 6)}

    def encode(self, texts: Sequence[str], *, progress: Any = None) -> np.ndarray:
        """Encode ``texts`` into ``(N, D)`` float32 L2-normalised vectors.

        Texts are tokenised once, sorted by token length and padded per batch (dynamic padding),
        so little work is spent on padding. ``progress`` is an optional tqdm-like bar whose
        ``update(n)`` is called per batch.
        """
        import torch

        self._load()
        n = len(texts)
        dense = self._dense
        dim = (int(self._model.config.hidden_size) if dense is None
               else int(dense[-2].out_features))  # the last Linear (then its activation)
        entity = self.pooling == "entity"
        out = np.empty((n, 3 * dim if entity else dim), dtype=np.float32)
        if n == 0:
            return out
        owner: np.ndarray | None = None  # windowed: the text of every window
        prompt = self.sentence_extras[1]
        if entity:
            from relabel.data.relation import unpack

            shift = len(prompt)  # the entities' character positions move with the prompt
            items = [(prompt + m, ph + shift, pt + shift) for m, ph, pt in map(unpack, texts)]
            enc = self._tokenizer([m for m, _, _ in items], truncation=True,
                                  max_length=self.max_length, padding=False,
                                  return_attention_mask=False, return_offsets_mapping=True)
            marks = np.array([[_token_at(offs, ph), _token_at(offs, pt)]
                              for offs, (_, ph, pt) in zip(enc["offset_mapping"], items,
                                                           strict=True)])
        elif self.windowed:
            ids, owner = self._windows([prompt + t for t in texts] if prompt else texts)
        else:
            enc = self._tokenizer([prompt + t for t in texts], truncation=True,
                                  max_length=self.max_length, padding=False,
                                  return_attention_mask=False)
        if not self.windowed:
            ids = enc["input_ids"]
            owner = None
        rows_out = out if owner is None else np.empty((len(ids), dim), dtype=np.float32)
        n_rows = len(ids)
        lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=n_rows)
        # progress counts texts: each window is 1 / (its text's windows) of one
        share = (None if owner is None else
                 1.0 / np.bincount(owner, minlength=n)[owner])
        order = np.argsort(lengths, kind="stable")
        pad_id = self._tokenizer.pad_token_id or 0
        token_pooling = self.token_pooling
        gpu = str(self.device).startswith("cuda")
        norm = torch.nn.functional.normalize
        # on a GPU the vectors stay there until a flush: no synchronisation per batch
        pending: list[tuple[np.ndarray, Any]] = []

        def flush() -> None:
            for i, v in pending:
                rows_out[i] = v.cpu().numpy()
            pending.clear()

        assert self.batch_size is not None  # set by _load
        bounds = batch_bounds(lengths[order], self.batch_size, self._token_cap)

        def run(start: int, end: int) -> None:
            with torch.inference_mode():  # thread-local: entered by every stream
                idx = order[start:end]
                # dynamic padding in numpy: the batch is as long as its longest text
                width = int(lengths[idx].max())
                input_ids = np.full((len(idx), width), pad_id, dtype=np.int64)
                for r, i in enumerate(idx):
                    input_ids[r, : lengths[i]] = ids[i]
                mask = (np.arange(width)[None, :] < lengths[idx, None]).astype(np.int64)
                batch = {"input_ids": torch.from_numpy(input_ids).to(self.device),
                         "attention_mask": torch.from_numpy(mask).to(self.device)}
                hidden = self._model(**batch).last_hidden_state.float()
                m = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = _pool(hidden, m, lengths[idx], token_pooling)
                pooled = norm(pooled if dense is None else dense(pooled), dim=-1)
                if entity:
                    rows = torch.arange(len(idx), device=hidden.device)
                    parts = [pooled]
                    for j in range(2):
                        pos = torch.as_tensor(marks[idx, j], device=hidden.device)
                        at = hidden[rows, pos.clamp(min=0)]
                        at = norm(at if dense is None else dense(at), dim=-1)
                        parts.insert(j, torch.where((pos >= 0)[:, None], at, pooled))
                    pooled = norm(torch.cat(parts, dim=1), dim=-1)
                if gpu:
                    pending.append((idx, pooled))
                    if len(pending) >= 64:
                        flush()
                else:
                    rows_out[idx] = pooled.numpy()
                if progress is not None:
                    progress.update(len(idx) if share is None else float(share[idx].sum()))

        streams = 1 if gpu else min(cpu_streams(), len(bounds))
        if streams > 1:
            # one forward pass per thread, each on one core: more throughput than one pass
            # spread over all cores (cpu_streams)
            from concurrent.futures import ThreadPoolExecutor

            from relabel.threads import torch_threads_divided

            # one torch thread per stream, however many streams were asked for
            with torch_threads_divided(max(streams, torch.get_num_threads())), \
                    ThreadPoolExecutor(streams) as pool:
                for f in [pool.submit(run, a, b) for a, b in bounds]:
                    f.result()
        else:
            for a, b in bounds:
                run(a, b)
        flush()
        if owner is not None:  # token-weighted mean of each text's windows, normalised again
            sums = np.zeros((n, dim), dtype=np.float64)
            np.add.at(sums, owner, rows_out * lengths[:, None])
            out[:] = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
        return out

    def _windows(self, texts: Sequence[str]) -> tuple[list[list[int]], np.ndarray]:
        """Token ids of every window and ``(W,)`` the text each belongs to: windows of
        ``max_length`` tokens with the model's special tokens, at most ``max_windows`` per
        text."""
        tok = self._tokenizer
        # the model's own special tokens around a text: where the content of "a" sits in its
        # encoding with special tokens
        bare = tok("a", add_special_tokens=False)["input_ids"]
        full = tok("a")["input_ids"]
        at = next(i for i in range(len(full) - len(bare) + 1) if full[i : i + len(bare)] == bare)
        prefix, suffix = full[:at], full[at + len(bare):]
        inner = self.max_length - len(prefix) - len(suffix)
        enc = tok(list(texts), add_special_tokens=False, truncation=True,
                  max_length=inner * self.max_windows, padding=False,
                  return_attention_mask=False)
        ids: list[list[int]] = []
        owner: list[int] = []
        for i, content in enumerate(enc["input_ids"]):
            for start in range(0, max(len(content), 1), inner):
                ids.append([*prefix, *content[start : start + inner], *suffix])
                owner.append(i)
        return ids, np.asarray(owner, dtype=np.int64)


def _dense_modules(layers: list[Any], device: str) -> Any:
    """The Dense layers (:func:`relabel.embed.model.sentence_dense`) as one float32 torch
    ``Sequential`` of Linear and activation pairs on ``device``; None when there are none."""
    if not layers:
        return None
    import torch

    mods: list[Any] = []
    for layer in layers:
        out_f, in_f = layer.weight.shape
        linear = torch.nn.Linear(in_f, out_f, bias=layer.bias is not None)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(layer.weight))
            if layer.bias is not None:
                linear.bias.copy_(torch.from_numpy(layer.bias))
        mods += [linear, getattr(torch.nn, layer.activation)()]
    return torch.nn.Sequential(*mods).to(device).eval()


def _pool(hidden: Any, mask: Any, lengths: np.ndarray, how: str) -> Any:
    """``(B, D)`` sentence vectors from ``(B, T, D)`` token states, ``(B, T, 1)`` attention
    mask and the ``(B,)`` token counts (right-padded): ``how`` is mean, cls, max or
    lasttoken."""
    import torch

    if how == "cls":
        return hidden[:, 0]
    if how == "max":
        return hidden.masked_fill(mask == 0, float("-inf")).max(dim=1).values
    if how == "lasttoken":
        rows = torch.arange(hidden.shape[0], device=hidden.device)
        return hidden[rows, torch.as_tensor(lengths - 1, device=hidden.device)]
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def batch_bounds(sorted_lengths: np.ndarray, max_rows: int, max_tokens: int | None = None
                 ) -> list[tuple[int, int]]:
    """``[start, end)`` of each batch over texts sorted by token length ``(N,)``: at most
    ``max_rows`` texts and, when given, at most ``max_tokens`` tokens once padded to the
    batch's longest text (always at least one text)."""
    bounds, start, n = [], 0, len(sorted_lengths)
    while start < n:
        end = min(start + max_rows, n)
        if max_tokens is not None:
            lo, hi = start + 1, end  # the largest end with (end - start) * width <= max_tokens
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if (mid - start) * int(sorted_lengths[mid - 1]) <= max_tokens:
                    lo = mid
                else:
                    hi = mid - 1
            end = lo
        bounds.append((start, end))
        start = end
    return bounds
