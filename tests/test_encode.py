"""The encoder shell and its cache: real HF loading (tiny model), resume, model resolution."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from relabel.embed.cache import EmbeddingCache, embed_texts, text_hashes
from relabel.embed.encoder import Encoder, resolve_model
from relabel.errors import RelabelInputError


def test_tiny_model_gives_unit_vectors_independent_of_batching(tiny_model_dir):
    texts = ["short", "a much longer sentence with many more tokens in it", "mid length one"]
    a = Encoder(str(tiny_model_dir), batch_size=1).encode(texts)
    b = Encoder(str(tiny_model_dir), batch_size=8).encode(texts)
    assert a.shape == (3, 32) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(a, b, atol=1e-5)  # padding does not change the vectors


def test_cache_reuses_and_resumes(tmp_path, fake_encoder):
    texts = [f"text number {i}" for i in range(10)] + ["text number 0"]  # one duplicate
    v1, s1 = embed_texts(texts, fake_encoder, cache_dir=tmp_path, shard_size=4)
    assert s1 == {"cached": 0, "encoded": 10}
    assert len(list((tmp_path / fake_encoder.key).glob("shard-*.npz"))) == 3
    np.testing.assert_array_equal(v1[0], v1[10])

    # a crash after the first shards: drop one shard, re-run encodes only its texts
    shard = sorted((tmp_path / fake_encoder.key).glob("shard-*.npz"))[0]
    with np.load(shard) as d:
        lost = len(d["hashes"])
    shard.unlink()
    fake_encoder.encoded.clear()
    v2, s2 = embed_texts(texts, fake_encoder, cache_dir=tmp_path, shard_size=4)
    assert s2 == {"cached": 10 - lost, "encoded": lost}
    assert len(fake_encoder.encoded) == lost
    np.testing.assert_allclose(v1, v2)

    fake_encoder.encoded.clear()
    _, s3 = embed_texts(texts, fake_encoder, cache_dir=tmp_path)
    assert s3 == {"cached": 10, "encoded": 0} and fake_encoder.encoded == []


def test_cache_keyed_by_encoder(tmp_path, fake_encoder):
    from tests.conftest import FakeEncoder

    embed_texts(["a", "b"], fake_encoder, cache_dir=tmp_path)
    other = FakeEncoder(dim=8)
    v, stats = embed_texts(["a", "b"], other, cache_dir=tmp_path)
    assert stats["encoded"] == 2 and v.shape == (2, 8)


def test_cache_shards_round_trip(tmp_path):
    cache = EmbeddingCache(tmp_path)
    h = text_hashes(["x", "y"])
    cache.add(h, np.eye(2, dtype=np.float32))
    got_h, got_v = cache.load()
    assert set(got_h.tolist()) == set(h.tolist()) and got_v.shape == (2, 2)


def test_resolve_model(tmp_path, tiny_model_dir):
    assert resolve_model(None).endswith("model")
    assert resolve_model(str(tiny_model_dir)) == str(tiny_model_dir.resolve())
    assert resolve_model("sentence-transformers/all-MiniLM-L6-v2") == (
        "sentence-transformers/all-MiniLM-L6-v2")
    with pytest.raises(RelabelInputError, match="model path does not exist"):
        resolve_model(str(tmp_path / "missing"))
    with pytest.raises(RelabelInputError, match="not a model directory"):
        resolve_model(str(tmp_path))


def test_unavailable_hub_model_is_one_line_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    enc = Encoder("nobody-has/this-model-xyz")
    with pytest.raises(RelabelInputError, match="cannot load model") as exc:
        enc.encode(["a"])
    assert "\n" not in str(exc.value)


def test_a_hub_model_with_no_hub_to_reach_fails_at_once(monkeypatch):
    """Without HF_HUB_OFFLINE and without a network, the hub client retried for about 45 s
    before a vaguer error; relabel checks that the hub can be reached first, and says so."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY",
                "http_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(RelabelInputError, match=r"nobody-has/this-model-xyz: cannot load model: "
                                                r"it is not in the local Hugging Face cache, "
                                                r"and 127\.0\.0\.1 cannot be reached"):
        Encoder("nobody-has/this-model-xyz", precision="fp32").encode(["a"])


def test_key_changes_with_max_length(tiny_model_dir):
    assert Encoder(str(tiny_model_dir), max_length=64).key != Encoder(
        str(tiny_model_dir), max_length=32).key


def sentence_transformers_dir(tiny_model_dir, path, pooling: dict, *, dense: bool = False):
    """A copy of the tiny model laid out as a sentence-transformers model: ``modules.json``,
    a Pooling module with the ``pooling`` flags and, with ``dense``, the folders of a Dense
    and a Normalize module (the Dense module's files are the caller's)."""
    import json
    import shutil

    shutil.copytree(tiny_model_dir, path)
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling",
         "type": "sentence_transformers.models.Pooling"}]
    if dense:
        modules += [
            {"idx": 2, "name": "2", "path": "2_Dense",
             "type": "sentence_transformers.models.Dense"},
            {"idx": 3, "name": "3", "path": "3_Normalize",
             "type": "sentence_transformers.models.Normalize"}]
        (path / "2_Dense").mkdir()
        (path / "3_Normalize").mkdir()
    (path / "modules.json").write_text(json.dumps(modules))
    (path / "1_Pooling").mkdir()
    (path / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": 32, **pooling}))
    return path


@pytest.mark.parametrize("flag, how", [("pooling_mode_cls_token", "cls"),
                                       ("pooling_mode_max_tokens", "max"),
                                       ("pooling_mode_lasttoken", "lasttoken"),
                                       ("pooling_mode_mean_tokens", "mean")])
def test_a_sentence_transformers_model_is_pooled_as_it_was_trained(tiny_model_dir, tmp_path,
                                                                    flag, how):
    """A model whose sentence-transformers config pools the first token (BGE, LaBSE), the
    maximum or the last token is pooled that way, not by the mean; its vectors get their own
    cache key; a model without that config is mean-pooled with the key it always had."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    flags = {"pooling_mode_cls_token": False, "pooling_mode_mean_tokens": False,
             "pooling_mode_max_tokens": False}
    st = sentence_transformers_dir(tiny_model_dir, tmp_path / "st-model", {**flags, flag: True})
    texts = ["short", "a much longer sentence with many more tokens in it", "mid length one"]
    enc = Encoder(str(st), batch_size=2, precision="fp32")
    assert enc.token_pooling == how
    got = enc.encode(texts)
    tok, model = AutoTokenizer.from_pretrained(st), AutoModel.from_pretrained(st).eval()
    want = []
    for t in texts:
        with torch.inference_mode():
            h = model(**tok(t, return_tensors="pt")).last_hidden_state[0]
        v = {"cls": h[0], "max": h.max(0).values, "lasttoken": h[-1], "mean": h.mean(0)}[how]
        want.append((v / v.norm()).numpy())
    np.testing.assert_allclose(got, np.stack(want), atol=1e-5)
    plain = Encoder(str(tiny_model_dir), precision="fp32")
    assert plain.token_pooling == "mean" and plain.key.endswith("-len128-mean")
    assert enc.key.endswith("-len128-mean" + ("" if how == "mean" else f"-{how}"))


@pytest.mark.parametrize("activation, out_features, weights", [
    ("torch.nn.modules.activation.Tanh", 32, "model.safetensors"),
    ("torch.nn.modules.linear.Identity", 12, "pytorch_model.bin")])
def test_dense_modules_after_the_pooling_are_applied(tiny_model_dir, tmp_path, activation,
                                                      out_features, weights):
    """A sentence-transformers model with a Dense module after its pooling (LaBSE: 768 -> 768,
    tanh; distiluse: 768 -> 512) gets the vectors sentence-transformers itself gives, with
    their own cache key and dimension."""
    import json

    import torch
    from safetensors.torch import save_file
    from sentence_transformers import SentenceTransformer

    st = sentence_transformers_dir(
        tiny_model_dir, tmp_path / "st-dense",
        {"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False,
         "pooling_mode_max_tokens": False}, dense=True)
    (st / "2_Dense" / "config.json").write_text(json.dumps(
        {"in_features": 32, "out_features": out_features, "bias": True,
         "activation_function": activation}))
    g = torch.Generator().manual_seed(0)
    tensors = {"linear.weight": torch.randn(out_features, 32, generator=g) * 0.3,
               "linear.bias": torch.randn(out_features, generator=g) * 0.1}
    if weights == "model.safetensors":
        save_file(tensors, st / "2_Dense" / weights)
    else:
        torch.save(tensors, st / "2_Dense" / weights)
    texts = ["short", "a much longer sentence with many more tokens in it", "mid length one"]
    enc = Encoder(str(st), batch_size=2, precision="fp32")
    got = enc.encode(texts)
    want = SentenceTransformer(str(st), device="cpu").encode(texts, normalize_embeddings=True)
    assert got.shape == (3, out_features)
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert enc.key.endswith("-len128-mean-cls-dense1")
    # relations: the entity token states go through the same module
    from relabel.data.relation import encoder_inputs

    _, packed = encoder_inputs(["Alice met Bob"], [0], [5], [10], [13], [None], [None])
    assert Encoder(str(st), precision="fp32", pooling="entity").encode(packed).shape == (
        1, 3 * out_features)
    # an activation relabel does not apply is one error naming it
    (st / "2_Dense" / "config.json").write_text(json.dumps(
        {"in_features": 32, "out_features": out_features, "bias": True,
         "activation_function": "mymodule.Swishy"}))
    with pytest.raises(RelabelInputError, match=r"activation mymodule\.Swishy"):
        Encoder(str(st), precision="fp32").encode(texts)


def test_a_default_prompt_is_put_before_every_text(tiny_model_dir, tmp_path):
    """A model whose config_sentence_transformers.json names a default prompt (instruction
    models) encodes every text with it, as sentence-transformers does; relations keep their
    entity positions; a Pooling that leaves the prompt out gets no prompt."""
    import json

    from sentence_transformers import SentenceTransformer

    pooling = {"word_embedding_dimension": 32, "pooling_mode_mean_tokens": True}
    st = sentence_transformers_dir(tiny_model_dir, tmp_path / "st-prompt", pooling)
    (st / "config_sentence_transformers.json").write_text(json.dumps(
        {"prompts": {"query": "query: ", "passage": "passage: "},
         "default_prompt_name": "query"}))
    texts = ["short", "a much longer sentence with many more tokens in it"]
    enc = Encoder(str(st), precision="fp32")
    got = enc.encode(texts)
    want = SentenceTransformer(str(st), device="cpu").encode(texts, normalize_embeddings=True)
    np.testing.assert_allclose(got, want, atol=1e-5)
    plain = Encoder(str(tiny_model_dir), precision="fp32").encode(texts)
    assert not np.allclose(got, plain, atol=1e-3)
    assert "-prompt" in enc.key and "-prompt" not in Encoder(str(tiny_model_dir)).key
    # relations: the head and tail vectors are the states of their tokens after the prompt
    import torch
    from transformers import AutoModel, AutoTokenizer

    from relabel.data.relation import encoder_inputs, unpack
    from relabel.embed.encoder import _token_at

    _, packed = encoder_inputs(["Alice met Bob"], [0], [5], [10], [13], [None], [None])
    got_ent = Encoder(str(st), precision="fp32", pooling="entity").encode(packed)[0]
    marked, head, tail = unpack(packed[0])
    tok, model = AutoTokenizer.from_pretrained(st), AutoModel.from_pretrained(st).eval()
    ids = tok("query: " + marked, return_offsets_mapping=True, return_tensors="pt")
    offsets = ids.pop("offset_mapping")[0].tolist()
    with torch.inference_mode():
        hidden = model(**ids).last_hidden_state[0]
    for part, pos in enumerate((head, tail)):
        v = hidden[_token_at(offsets, pos + len("query: "))]
        want_part = (v / v.norm()).numpy()
        block = got_ent[32 * part : 32 * (part + 1)]
        np.testing.assert_allclose(block / np.linalg.norm(block), want_part, atol=1e-5)
    # a Pooling that excludes the prompt's tokens: relabel adds no prompt (it cannot pool so)
    (st / "1_Pooling" / "config.json").write_text(json.dumps({**pooling,
                                                              "include_prompt": False}))
    np.testing.assert_allclose(Encoder(str(st), precision="fp32").encode(texts), plain,
                               atol=1e-6)


def test_half_precision_checkpoint_loads_in_float32(tiny_model_dir, tmp_path):
    """Checkpoints stored in fp16 (common on the hub) must encode and fine-tune in float32 on the
    CPU: transformers 5 would otherwise keep fp16 and clash with the float32 corrector head."""
    import shutil

    import torch
    from safetensors.torch import load_file, save_file

    from relabel.correct.finetune import FinetuneCorrector

    half = tmp_path / "half"
    shutil.copytree(tiny_model_dir, half)
    weights = load_file(half / "model.safetensors")
    save_file({k: v.half() if v.is_floating_point() else v for k, v in weights.items()},
              half / "model.safetensors", metadata={"format": "pt"})
    texts = ["card arrived", "refund please", "send money", "card lost"] * 3
    vecs = Encoder(str(half), device="cpu").encode(texts)
    ref = Encoder(str(tiny_model_dir), device="cpu").encode(texts)
    assert vecs.dtype == np.float32
    assert np.allclose(np.sum(vecs * ref, axis=1), 1.0, atol=1e-3)
    est = FinetuneCorrector(n_classes=2, model=str(half), epochs=1, batch_size=4, device="cpu")
    est.fit(np.asarray(texts, dtype=object), np.array([0, 1] * 6))
    assert est.predict_proba(np.asarray(texts[:2], dtype=object)).shape == (2, 2)
    assert next(est.net_.parameters()).dtype == torch.float32


def test_batch_bounds_cap_rows_and_padded_tokens():
    from relabel.embed.encoder import batch_bounds

    lengths = np.array([2, 2, 3, 5, 8, 8, 40, 100])
    assert batch_bounds(lengths, 3) == [(0, 3), (3, 6), (6, 8)]
    bounds = batch_bounds(lengths, 4, max_tokens=16)
    assert bounds[0][0] == 0 and bounds[-1][1] == len(lengths)
    assert all(a < b for a, b in bounds)
    assert all(b2 == a1 for (_, b2), (a1, _) in itertools.pairwise(bounds))
    for a, b in bounds:  # within the caps, or a single text that alone exceeds the token cap
        assert b - a <= 4 and ((b - a) * lengths[b - 1] <= 16 or b - a == 1)
    assert (6, 7) in bounds and (7, 8) in bounds


def test_long_texts_are_encoded_in_windows(tiny_model_dir):
    model = str(tiny_model_dir)
    short, long = "a short text", " ".join(f"word{i % 50}" for i in range(300))
    trunc = Encoder(model, max_length=32)
    win = Encoder(model, max_length=32, max_windows=4)
    assert win.key != trunc.key and win.key.endswith("-w4")
    a, b = trunc.encode([short, long]), win.encode([short, long])
    np.testing.assert_allclose(a[0], b[0], atol=1e-6)  # a short text is one window
    np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    # the long text's vector is the token-weighted mean of its 4 windows, encoded one by one
    ids, owner = win._windows([long])
    assert len(ids) == 4 and (owner == 0).all() and all(len(x) == 32 for x in ids)
    tok = win._tokenizer
    parts = trunc.encode([tok.decode(x, skip_special_tokens=True) for x in ids])
    mean = (parts * np.array([len(x) for x in ids])[:, None]).sum(0)
    assert float(b[1] @ (mean / np.linalg.norm(mean))) > 0.99
    assert float(a[1] @ b[1]) < 0.999  # truncation saw only the first window
    with pytest.raises(RelabelInputError, match="max_windows must be at least 1"):
        Encoder(model, max_windows=0)


@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_reduced_precision_stays_close_to_fp32_and_has_its_own_cache_key(tiny_model_dir,
                                                                           precision):
    from relabel.embed.encoder import Encoder

    texts = ["where is my card", "I want a refund please", "send money to my mother",
             "the transfer did not arrive"] * 4
    ref = Encoder(str(tiny_model_dir), device="cpu", precision="fp32")
    low = Encoder(str(tiny_model_dir), device="cpu", precision=precision)
    a, b = ref.encode(texts), low.encode(texts)
    assert b.dtype == np.float32 and b.shape == a.shape
    assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-4)
    assert ((a * b).sum(1) > (0.99 if precision == "bf16" else 0.9)).all()
    assert low.key == ref.key + f"-{precision}" and low.key != ref.key


def test_auto_precision_follows_the_cpu_and_int8_is_cpu_only(monkeypatch) -> None:
    from relabel.embed import precision as enc
    from relabel.errors import RelabelInputError

    monkeypatch.setattr(enc, "cpu_has_native_bf16", lambda: True)
    assert enc.resolve_precision("auto", "cpu") == "bf16"
    monkeypatch.setattr(enc, "cpu_has_native_bf16", lambda: False)
    assert enc.resolve_precision("auto", "cpu") == "fp32"
    assert enc.resolve_precision("fp32", "cpu") == "fp32"
    assert enc.resolve_precision("auto", "cuda") == "fp32"  # the GPU path picks bf16 itself
    with pytest.raises(RelabelInputError, match="precision='int8' is dynamic quantisation for "
                                                "CPUs"):
        enc.resolve_precision("int8", "cuda")
    with pytest.raises(RelabelInputError, match="precision must be one of"):
        enc.resolve_precision("fp16", "cpu")


@pytest.mark.parametrize("min_speedup", [0.0, 1e9])
def test_auto_precision_keeps_bf16_only_where_the_probe_measures_it_faster(
        tiny_model_dir, monkeypatch, min_speedup, tmp_path) -> None:
    from relabel.embed import encoder as enc
    from relabel.embed import precision as prec

    monkeypatch.setenv("RELABEL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(prec, "cpu_has_native_bf16", lambda: True)
    monkeypatch.setattr(prec, "AUTO_MIN_SPEEDUP", min_speedup)
    monkeypatch.setattr(prec, "_PROBED", {})
    auto = enc.Encoder(str(tiny_model_dir), device="cpu", precision="auto")
    want = "bf16" if min_speedup == 0.0 else "fp32"
    assert auto.resolved_precision == want
    probe = auto.precision_probe
    assert probe is not None and probe["bf16_speedup"] > 0
    assert 0.99 < probe["bf16_min_cosine"] <= 1.0 + 1e-6
    fixed = enc.Encoder(str(tiny_model_dir), device="cpu", precision=want)
    assert auto.key == fixed.key
    texts = ["where is my card", "I want a refund please"]
    assert np.allclose(auto.encode(texts), fixed.encode(texts), atol=1e-6)
    # the outcome is remembered for the process: a second encoder does not probe again
    again = enc.Encoder(str(tiny_model_dir), device="cpu", precision="auto")
    assert again.resolved_precision == want and again.precision_probe == probe
    # ... and for this machine on disk: a new process (its memo empty) reads the measurements
    # and chooses the same, whatever the load would make a new measurement say
    assert prec.probe_store() == tmp_path / "cache" / "precision.json"
    monkeypatch.setattr(prec, "_PROBED", {})

    def no_second_measurement(self):
        raise AssertionError("measured again")

    monkeypatch.setattr(enc.Encoder, "_measure_bf16", no_second_measurement)
    later = enc.Encoder(str(tiny_model_dir), device="cpu", precision="auto")
    assert later.resolved_precision == want and later.precision_probe == probe
    # a store that cannot be read is measured over (here: a directory in the file's place)
    monkeypatch.setenv("RELABEL_CACHE_DIR", str(tmp_path / "unreadable"))
    (tmp_path / "unreadable" / "precision.json").mkdir(parents=True)
    monkeypatch.setattr(prec, "_PROBED", {})
    monkeypatch.setattr(enc.Encoder, "_measure_bf16",
                        lambda self: {"bf16_speedup": 5.0, "bf16_min_cosine": 0.9999})
    assert enc.Encoder(str(tiny_model_dir), device="cpu", precision="auto"
                       ).resolved_precision == ("bf16" if min_speedup == 0.0 else "fp32")


def test_cpu_streams_give_the_same_vectors_and_restore_torch_threads(tiny_model_dir,
                                                                     monkeypatch):
    import torch

    from relabel.embed.encoder import Encoder

    texts = [f"text number {i} " + "word " * (i % 17) for i in range(300)]
    enc = Encoder(str(tiny_model_dir), device="cpu", precision="fp32", batch_size=16)
    before = torch.get_num_threads()
    monkeypatch.setenv("RELABEL_CPU_STREAMS", "1")
    one = enc.encode(texts)
    monkeypatch.setenv("RELABEL_CPU_STREAMS", "3")
    three = enc.encode(texts)
    assert torch.get_num_threads() == before
    np.testing.assert_allclose(one, three, atol=1e-6)
    assert np.allclose(np.linalg.norm(three, axis=1), 1.0, atol=1e-5)
