"""The encoder's numeric precision on a CPU: what ``--precision`` resolves to, and the probe
that keeps bf16 under ``auto`` only where it measures faster with the same vectors.

``auto`` takes bf16 as a candidate where the CPU computes it natively
(:func:`cpu_has_native_bf16`); the encoder then measures fp32 against bf16 on
``PROBE_TEXTS`` (:meth:`relabel.embed.encoder.Encoder._measure_bf16`) and
:func:`probed_precision` keeps bf16 when it is at least ``AUTO_MIN_SPEEDUP`` times as fast with
every vector's cosine to fp32 at least ``AUTO_MIN_COSINE``. The measurements are remembered for
the process and on disk per machine (:func:`probe_store`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable
from pathlib import Path

from relabel.config import PRECISION_CHOICES
from relabel.errors import RelabelInputError, option


def cpu_has_native_bf16() -> bool:
    """True when this CPU computes bfloat16 natively (AVX-512 BF16 or AMX BF16, from
    ``/proc/cpuinfo``; False where that cannot be read)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        return False
    return False


#: ``--precision auto`` keeps bf16 only where, on the probe texts, it is at least this many times
#: as fast as fp32 and every vector's cosine to its fp32 vector is at least AUTO_MIN_COSINE
AUTO_MIN_SPEEDUP = 1.2
AUTO_MIN_COSINE = 0.999
#: the probe's texts (:meth:`relabel.embed.encoder.Encoder._measure_bf16`): short and long,
#: English and not, digits, symbols
PROBE_TEXTS = (
    "hi", "Where is my card?", "I was charged twice for the same coffee this morning.",
    "Can I top up my account by bank transfer, and how long does it take to arrive?",
    "What's the difference between a virtual card and a disposable one?? #confused",
    "Ina son sanin yadda zan biya kudin wutar lantarki ta waya.",
    "Ẹ jọ̀wọ́, ṣé ẹ lè ràn mí lọ́wọ́ láti ṣí àkáǹtì tuntun?",
    "Order 4417-2209 arrived damaged; refund EUR 129.99 to card **** 0042 please :(",
    "The drug was given to 312 patients, and 14 of them reported headaches (p < 0.05).",
    " ".join(["The committee met again on Tuesday to discuss the budget, the new hires and "
              "the delays on the northern line, without reaching any agreement."] * 6),
)


def resolve_precision(precision: str, device: str | None) -> str:
    """The precision a CPU encoder is asked to run at. ``auto``: bf16 as a *candidate* where
    the CPU computes it natively, else fp32; :class:`relabel.embed.encoder.Encoder` then keeps
    bf16 only if it measures faster with the same vectors on this machine
    (:func:`probed_precision`). On a GPU the weights are bf16 already where supported, and
    ``int8`` (CPU dynamic quantisation) is refused.

    Raises
    ------
    RelabelInputError
        An unknown precision, or int8 on a GPU.
    """
    if precision not in PRECISION_CHOICES:
        raise RelabelInputError(f"{option('--precision')} must be one of "
                                f"{', '.join(PRECISION_CHOICES)}, "
                                f"got {precision!r}")
    gpu = device is not None and str(device).startswith("cuda")
    if gpu:
        if precision == "int8":
            raise RelabelInputError(f"{option('--precision', 'int8')} is dynamic quantisation "
                                    "for CPUs; on a GPU use fp32 or bf16")
        return "fp32"  # the GPU path picks bf16 itself where the GPU supports it
    if precision == "auto":
        return "bf16" if cpu_has_native_bf16() else "fp32"
    return precision


#: probe outcomes of this process: (model, max length, device) -> (precision, measurements)
_PROBED: dict[Hashable, tuple[str, dict[str, float]]] = {}
#: the probe's measurements are kept on disk, per machine, in this file of the user's cache
#: directory (``$RELABEL_CACHE_DIR``, else ``$XDG_CACHE_HOME/relabel``, else
#: ``~/.cache/relabel``)
PROBE_FILE = "precision.json"


def probe_store() -> Path:
    """The file that remembers ``--precision auto``'s measurements on this machine."""
    root = os.environ.get("RELABEL_CACHE_DIR")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"),
                                                                 ".cache")
        root = os.path.join(base, "relabel")
    return Path(root) / PROBE_FILE


def machine_id() -> str:
    """What a speed measurement holds for: the CPU model, torch's version and threads."""
    import platform

    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh
                        if line.startswith("model name")), cpu)
    except OSError:
        pass
    return f"{cpu}|torch {torch.__version__}|{torch.get_num_threads()} threads"


def stored_probe(key: str) -> dict[str, float] | None:
    """The measurements stored for ``key``, or None (no file, unreadable, or not there)."""
    import json

    try:
        stored = json.loads(probe_store().read_text(encoding="utf-8"))
        found = stored.get(key) if isinstance(stored, dict) else None
        if (isinstance(found, dict) and isinstance(found.get("bf16_speedup"), (int, float))
                and isinstance(found.get("bf16_min_cosine"), (int, float))):
            return {"bf16_speedup": float(found["bf16_speedup"]),
                    "bf16_min_cosine": float(found["bf16_min_cosine"])}
    except (OSError, ValueError):
        pass
    return None


def store_probe(key: str, measured: dict[str, float]) -> None:
    """Add ``measured`` under ``key`` to the store, atomically; a cache that cannot be written
    (read-only home) only means the next process measures again."""
    import json
    import tempfile

    path = probe_store()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
            stored = stored if isinstance(stored, dict) else {}
        except (OSError, ValueError):
            stored = {}
        stored[key] = measured
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".precision-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(stored, fh, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        pass


def probed_precision(memo_key: Hashable, store_key: str,
                     measure: Callable[[], dict[str, float]]) -> tuple[str, dict[str, float]]:
    """bf16 or fp32 for ``auto``, from ``measure()`` (``bf16_speedup``, ``bf16_min_cosine``),
    remembered for the process under ``memo_key`` and on this machine under ``store_key``
    (:func:`probe_store`): the same command then encodes at the same precision on every run.

    Returns
    -------
    precision : str
        ``"bf16"`` when the speed-up is at least ``AUTO_MIN_SPEEDUP`` and the minimum cosine
        at least ``AUTO_MIN_COSINE``, else ``"fp32"``.
    measured : dict
        The measurements the choice was made on.
    """
    if memo_key in _PROBED:
        return _PROBED[memo_key]
    measured = stored_probe(store_key)
    if measured is None:
        measured = measure()
        store_probe(store_key, measured)
    chosen = ("bf16" if measured["bf16_speedup"] >= AUTO_MIN_SPEEDUP
              and measured["bf16_min_cosine"] >= AUTO_MIN_COSINE else "fp32")
    _PROBED[memo_key] = (chosen, measured)
    return chosen, measured


__all__ = ["AUTO_MIN_COSINE", "AUTO_MIN_SPEEDUP", "PROBE_FILE", "PROBE_TEXTS",
           "cpu_has_native_bf16", "machine_id", "probe_store", "probed_precision",
           "resolve_precision", "store_probe", "stored_probe"]
