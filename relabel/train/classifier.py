"""``relabel train`` / ``relabel evaluate``: a text classifier for the retrain step.

``train_classifier`` trains on a dataset's given labels, either a head on frozen embeddings
(``head_only``, CPU-fast) or the whole encoder plus a head, with the same modules and training
loop as the correctors (cross-entropy on one-hot labels, no contrastive term). The model
directory holds ``model.safetensors`` (weights), ``config.json`` (kind, base encoder, sizes,
classes) and, while training, ``checkpoint.pt`` after every epoch: a run killed mid-way resumes
from its last finished epoch and ends with the same model. ``evaluate_model`` reports accuracy,
macro F1, per-class precision / recall and the confusion matrix on a labelled test file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from relabel.config import InputSpec, parse_label_names
from relabel.data.io import read_table
from relabel.data.write import atomic_path, write_json
from relabel.errors import RelabelInputError, option

if TYPE_CHECKING:
    from relabel.data.task import ReadTask

MODEL_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
CHECKPOINT_FILE = "checkpoint.pt"
HEAD_DEFAULTS = {"epochs": 30, "lr": 3e-3, "batch_size": 256}
FINETUNE_DEFAULTS = {"epochs": 4, "lr": 5e-5, "batch_size": 32}


def read_examples(data: str | Path, text_col: str, label_col: str, task: str, *,
              compare: bool = True, label_names: Any = None,
              encoding: str | None = None) -> ReadTask:
    """The examples of a training file, or of a test file (``compare=False``: one class, or
    a few rows of many classes, are a test file's right); integer codes named by
    ``label_names``, a text file read in ``encoding`` (as ``denoise`` takes them)."""
    from relabel.data.task import read_task

    spec = InputSpec(text_col=text_col, label_col=label_col, task=task, pooling="mean",
                     label_names=label_names, encoding=encoding)
    spec.check()
    table, _ = read_table(data, encoding=encoding)
    return read_task(table, data, spec, compare=compare)


def _build(config: dict[str, Any], generator: Any = None) -> tuple[Any, Any]:
    """``(net, tokenizer or None)`` for a config; weights random (head) or pretrained."""
    import torch

    from relabel.correct.finetune import _FinetuneNet
    from relabel.correct.head import _HeadNet
    from relabel.embed.model import load_pretrained, resolve_model

    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    k = len(config["classes"])
    if config["kind"] == "head":
        return _HeadNet(config["dim"], config["hidden"], k, config["proj_dim"], 0.1, gen), None
    tokenizer, encoder = load_pretrained(resolve_model(config["model"]), config["model"])
    return _FinetuneNet(encoder, k, config["proj_dim"], 0.1), tokenizer


def _inputs_fn(config: dict[str, Any], texts: list[str], tokenizer: Any, cache: Path | None,
               device: str) -> Any:
    import torch

    if config["kind"] == "head":
        from relabel.embed.cache import embed_texts
        from relabel.embed.encoder import Encoder

        enc = Encoder(config["model"], max_length=config["max_length"])
        emb, _ = embed_texts(texts, enc, cache_dir=cache)
        x = torch.as_tensor(emb, device=device)
        return lambda idx: {"x": x[torch.as_tensor(idx, device=device)]}
    ids = tokenizer(texts, truncation=True, max_length=config["max_length"], padding=False,
                    return_attention_mask=False)["input_ids"]

    def inputs(idx: np.ndarray) -> dict[str, Any]:
        batch = tokenizer.pad({"input_ids": [ids[i] for i in idx]}, return_tensors="pt")
        return {k: v.to(device) for k, v in batch.items()}

    return inputs


def train_classifier(
    data: str | Path,
    out: str | Path,
    *,
    model: str | None = None,
    head_only: bool = False,
    epochs: int | None = None,
    lr: float | None = None,
    batch_size: int | None = None,
    max_length: int = 128,
    text_col: str = "text",
    label_col: str = "label",
    task: str = "auto",
    seed: int = 0,
    progress: bool = False,
    cache_dir: str | Path | None = None,
    label_names: Any = None,
    encoding: str | None = None,
) -> dict[str, Any]:
    """Train a classifier on ``data`` and save it in ``out``.

    ``cache_dir`` holds the embedding cache of a head-only run (default ``out/cache/embeddings``).
    ``label_names`` and ``encoding`` read the data as ``denoise`` does; the names are kept in
    the model's config, so ``evaluate`` names a test file's codes the same way.

    Returns
    -------
    dict
        ``classes``, ``epochs``, ``resumed_from`` (epoch, 0 for a fresh run), ``loss`` (per epoch).

    Raises
    ------
    RelabelInputError
        Bad input (as in ``denoise``) or options.
    """
    from relabel.lock import run_lock
    from relabel.paths import PathArg, check_paths

    check_paths([PathArg("DATA", data, "input", dir_ok=True), PathArg("--model", model, "model"),
                 PathArg("--out", out, "output_dir", inputs=(Path(data),),
                         owns=(MODEL_FILE, CONFIG_FILE, CHECKPOINT_FILE, "cache")),
                 PathArg("--cache-dir", cache_dir, "output_dir")])
    with run_lock(out, "relabel train"):
        return _train_locked(data, Path(out), model=model, head_only=head_only, epochs=epochs,
                             lr=lr, batch_size=batch_size, max_length=max_length,
                             text_col=text_col, label_col=label_col, task=task, seed=seed,
                             progress=progress, cache_dir=cache_dir, label_names=label_names,
                             encoding=encoding)


def _train_locked(data: str | Path, out: Path, *, model: str | None, head_only: bool,
                  epochs: int | None, lr: float | None, batch_size: int | None,
                  max_length: int, text_col: str, label_col: str, task: str, seed: int,
                  progress: bool, cache_dir: str | Path | None, label_names: Any = None,
                  encoding: str | None = None) -> dict[str, Any]:
    import torch
    from safetensors.torch import save_file

    from relabel.correct.train import TrainData, make_generator, train_model

    defaults = HEAD_DEFAULTS if head_only else FINETUNE_DEFAULTS
    # None takes the default; an explicit 0 is an error, not the default
    for name, value, positive in (("--epochs", epochs, False), ("--batch-size", batch_size, False),
                                  ("--lr", lr, True)):
        if value is not None and (value <= 0 if positive else value < 1):
            raise RelabelInputError(f"{option(name)} must be "
                                    f"{'positive' if positive else 'at least 1'}, got {value}")
    epochs = int(defaults["epochs"]) if epochs is None else epochs
    lr = float(defaults["lr"]) if lr is None else lr
    batch_size = int(defaults["batch_size"]) if batch_size is None else batch_size
    task_info = read_examples(data, text_col, label_col, task, label_names=label_names,
                          encoding=encoding)
    examples = task_info.frame
    texts = list(task_info.texts["mean"])
    classes = sorted(examples["label"].unique().to_list())
    labels = np.searchsorted(classes, examples["label"].to_numpy()).astype(np.int64)
    config: dict[str, Any] = {
        "kind": "head" if head_only else "finetune", "model": model, "max_length": max_length,
        "classes": classes, "hidden": 256, "proj_dim": 64, "task": task_info.task,
        "text_col": text_col, "label_col": label_col, "epochs": epochs, "lr": lr,
        "batch_size": batch_size, "seed": seed,
    }
    if label_names is not None:  # evaluate names a test file's codes the same way
        config["label_names"] = [list(p) for p in parse_label_names(label_names)]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    gen = make_generator(seed)
    torch.manual_seed(seed)
    if head_only:
        from relabel.embed.encoder import Encoder

        config["dim"] = int(Encoder(model, max_length=max_length).encode(texts[:1]).shape[1])
    net, tokenizer = _build(config, gen)
    net.to(device)
    inputs = _inputs_fn(config, texts, tokenizer,
                        Path(cache_dir) if cache_dir else out / "cache" / "embeddings", device)
    onehot = np.eye(len(classes), dtype=np.float32)[labels]
    n = len(labels)
    targets = TrainData(labels=labels, soft=onehot, credibility=np.ones(n, np.float32),
                        frozen=np.zeros((n, 1), np.float32), radius=np.ones(n, np.float32))
    fingerprint = hashlib.blake2b(json.dumps(config, sort_keys=True, default=str).encode()
                                  + labels.tobytes() + "\x00".join(texts).encode(),
                                  digest_size=12).hexdigest()
    ckpt_path = out / CHECKPOINT_FILE
    resume = None
    if ckpt_path.exists():
        state = load_checkpoint(ckpt_path, device)
        if state.get("fingerprint") == fingerprint:
            resume = state

    def save_checkpoint(state: dict[str, Any]) -> None:
        with atomic_path(ckpt_path) as tmp:
            torch.save({**state, "fingerprint": fingerprint}, tmp)

    from relabel.progress import progress_bar

    bar = progress_bar(progress, "training", total=epochs * max(1, -(-n // batch_size)),
                    unit="step")
    try:
        history = train_model(net, inputs, targets, loss="ce", lam=0.0, temperature=0.1,
                              epochs=epochs, lr=lr, weight_decay=0.01, batch_size=batch_size,
                              warmup=0.1, grad_accum=1, generator=gen, device=device,
                              progress=bar, resume=resume, on_epoch_end=save_checkpoint)
    finally:
        bar.close()
    weights = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    with atomic_path(out / MODEL_FILE) as tmp:
        save_file(weights, str(tmp))
    write_json(config, out / CONFIG_FILE)
    ckpt_path.unlink(missing_ok=True)
    return {"classes": classes, "epochs": epochs,
            "resumed_from": int(resume["epoch"]) if resume else 0, "loss": history}


def load_checkpoint(path: Path, device: str = "cpu") -> dict[str, Any]:
    """A training checkpoint, loaded with ``torch.load(weights_only=True)``: tensors, numbers,
    strings and containers only, so a crafted pickle planted in the output directory cannot run
    code. Anything else is refused with one line.

    Raises
    ------
    RelabelInputError
        The file is not a checkpoint relabel wrote (or is damaged).
    """
    import pickle

    import torch

    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError):
        raise RelabelInputError(
            "refusing to load this checkpoint: it is not one relabel wrote (it holds more than "
            "weights and numbers, or is damaged); delete it to train from the start",
            path=path) from None
    if not isinstance(state, dict):
        raise RelabelInputError("refusing to load this checkpoint: not a relabel checkpoint; "
                                "delete it to train from the start", path=path)
    return state


def model_config(model_dir: str | Path) -> dict[str, Any]:
    """``config.json`` of a trained model directory (its kind, encoder, classes, columns).

    Raises
    ------
    RelabelInputError
        Not a directory written by ``relabel train``.
    """
    model_dir = Path(model_dir)
    if not (model_dir / CONFIG_FILE).exists() or not (model_dir / MODEL_FILE).exists():
        raise RelabelInputError("not a model directory written by `relabel train` "
                                f"(no {CONFIG_FILE} or {MODEL_FILE})", path=model_dir)
    config: dict[str, Any] = json.loads((model_dir / CONFIG_FILE).read_text())
    return config


def load_classifier(model_dir: str | Path) -> tuple[dict[str, Any], Any, Any]:
    """``(config, net, tokenizer)`` of a trained model directory."""
    from safetensors.torch import load_file

    model_dir = Path(model_dir)
    config = model_config(model_dir)
    net, tokenizer = _build(config)
    net.load_state_dict(load_file(str(model_dir / MODEL_FILE)))
    net.eval()
    return config, net, tokenizer


def evaluate_model(model_dir: str | Path, test: str | Path, *, text_col: str | None = None,
                   label_col: str | None = None, cache_dir: str | Path | None = None,
                   label_names: Any = None, encoding: str | None = None) -> dict[str, Any]:
    """Accuracy, macro F1, per-class precision / recall / F1 and confusion matrix on ``test``.

    Test labels the model never saw count as errors and are listed in ``unseen_labels``.
    ``label_names`` (default: the model's, from ``train``) names the test file's integer
    codes; ``encoding`` is a text file's encoding.
    """
    true, pred, classes = predict_labels(model_dir, test, text_col=text_col,
                                         label_col=label_col, cache_dir=cache_dir,
                                         label_names=label_names, encoding=encoding)
    return classification_metrics(true, pred, classes)


def predict_labels(model_dir: str | Path, test: str | Path, *, text_col: str | None = None,
                   label_col: str | None = None, cache_dir: str | Path | None = None,
                   label_names: Any = None, encoding: str | None = None
                   ) -> tuple[list[str], list[str], list[str]]:
    """The test file's labels, the model's predictions for its rows (same order) and the
    model's classes (options as :func:`evaluate_model`)."""
    from relabel.paths import PathArg, check_paths

    check_paths([PathArg("MODEL_DIR", model_dir, "input", dir_ok=True),
                 PathArg("TEST", test, "input", dir_ok=True)])
    config = model_config(model_dir)
    info = read_examples(test, text_col or config["text_col"], label_col or config["label_col"],
                         config["task"], compare=False, encoding=encoding,
                         label_names=label_names if label_names is not None
                         else config.get("label_names"))
    return predict_task(model_dir, info, cache_dir=cache_dir)


def predict_task(model_dir: str | Path, info: ReadTask, *,
                 cache_dir: str | Path | None = None) -> tuple[list[str], list[str], list[str]]:
    """:func:`predict_labels` on a test set read already (:func:`read_examples`)."""
    import torch

    from relabel.correct.train import predict_proba

    config, net, tokenizer = load_classifier(model_dir)
    texts = list(info.texts["mean"])
    true = info.frame["label"].to_list()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    net.to(device)
    inputs = _inputs_fn(config, texts, tokenizer, Path(cache_dir) if cache_dir else None, device)
    proba = predict_proba(net, inputs, len(texts), batch_size=64, device=device)
    classes = config["classes"]
    return true, [classes[i] for i in proba.argmax(1)], classes


def classification_metrics(true: list[str], pred: list[str], classes: list[str]
                           ) -> dict[str, Any]:
    """What :func:`evaluate_model` returns, from the labels and predictions of a test set."""
    from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

    labels = sorted(set(classes) | set(true))
    p, r, f, s = precision_recall_fscore_support(true, pred, labels=labels, zero_division=0)
    return {
        "examples": len(true),
        "accuracy": float(np.mean(np.array(pred) == np.array(true))),
        "macro_f1": float(f1_score(true, pred, labels=sorted(set(true)), average="macro",
                                   zero_division=0)),
        "per_class": {c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                          "support": int(s[i])} for i, c in enumerate(labels)},
        "labels": labels,
        "confusion": confusion_matrix(true, pred, labels=labels).tolist(),
        "unseen_labels": sorted(set(true) - set(classes)),
    }
