#!/usr/bin/env python3
"""Build tiny random-weight Llama, Mistral and Qwen2 checkpoints plus golden logits.

Writes testdata/{llama,mistral,qwen2}-tiny/: the checkpoint as transformers' own
save_pretrained writes it (config.json, generation_config.json, safetensors),
golden.json and logits.f32 (float32 little-endian, row-major [T, V]: the logits of
one full-prefill forward pass at every position of the prompt).

Everything is seeded, runs on the CPU in float32 with the eager attention
implementation and one intra-op thread, so reruns on the same package versions
write the same bytes. Run through scripts/golden.sh (it pins the versions);
never run by CI.

    PYTHON=/path/to/python scripts/golden.sh   # reuse an existing environment
    scripts/golden.sh                          # make .venv-golden/ and use it
"""

import argparse
import copy
import json
import math
import os
import sys

import numpy as np
import safetensors
import torch
import transformers
from safetensors import safe_open
from transformers import (
    GenerationConfig,
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
)

PROMPT_LEN = 80  # BOS + 79 seeded random ids
NEW_TOKENS = 20  # greedy continuation length
VOCAB = 512
BOS = 1
FIRST_ORDINARY_ID = 3  # prompt ids are drawn from [3, VOCAB): 0..2 are pad/bos/eos

DEVICE = torch.device("cpu")


def log(*args):
    print(*args, flush=True)


# ---------------------------------------------------------------------------
# model definitions


def llama_config():
    return LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,  # GQA: 2 query heads per KV head
        hidden_act="silu",
        max_position_embeddings=256,
        rms_norm_eps=1e-5,
        rope_parameters={
            "rope_type": "llama3",
            "rope_theta": 500000.0,
            "factor": 8.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 8192,
        },
        attention_bias=False,
        mlp_bias=False,
        tie_word_embeddings=False,
        bos_token_id=BOS,
        eos_token_id=[2, 3],
        pad_token_id=None,
    )


def mistral_config():
    return MistralConfig(
        vocab_size=VOCAB,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=32,  # explicit, != hidden_size / num_attention_heads (16)
        hidden_act="silu",
        max_position_embeddings=256,
        rms_norm_eps=1e-5,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        sliding_window=16,  # shorter than the 80-token prompt
        tie_word_embeddings=False,
        bos_token_id=BOS,
        eos_token_id=2,
        pad_token_id=None,
    )


def qwen2_config():
    return Qwen2Config(
        vocab_size=VOCAB,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        hidden_act="silu",
        max_position_embeddings=256,
        rms_norm_eps=1e-6,
        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
        use_sliding_window=False,
        tie_word_embeddings=True,
        bos_token_id=BOS,
        eos_token_id=2,
        pad_token_id=None,
    )


MODELS = [
    # name, config factory, class, seed, storage dtype, save_pretrained extra kwargs, generation eos
    ("llama-tiny", llama_config, LlamaForCausalLM, 1001, torch.float32, {}, [2, 3]),
    ("mistral-tiny", mistral_config, MistralForCausalLM, 1002, torch.float32, {"max_shard_size": "200KB"}, 2),
    # Like real Qwen2 checkpoints: config.json has one eos id, generation_config.json a list.
    ("qwen2-tiny", qwen2_config, Qwen2ForCausalLM, 1003, torch.bfloat16, {}, [2, 3]),
]


# ---------------------------------------------------------------------------
# weights


def randomize(model, seed):
    """Overwrite every parameter with seeded values chosen so that each feature matters.

    transformers' default init (std 0.02, norms = 1, biases = 0) gives near-uniform
    attention, identity norms and zero biases, which would let a wrong RoPE, mask,
    norm or bias slip through. Instead:
      * RMSNorm weights ~ U(0.5, 1.5)
      * biases ~ N(0, 0.5^2)
      * embeddings ~ N(0, 0.5^2), or N(0, 1/hidden) when tied to lm_head
      * linear weights ~ N(0, (g / sqrt(fan_in))^2), g = 1.5 for q/k (sharper attention), 1 otherwise
    Parameters are visited in named_parameters() order (tied weights once).
    """
    g = torch.Generator().manual_seed(seed)
    tied = model.config.tie_word_embeddings
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                v = torch.rand(p.shape, generator=g) + 0.5
            elif name.endswith(".bias"):
                v = torch.randn(p.shape, generator=g) * 0.5
            elif "embed_tokens" in name:
                # Tied to lm_head: a smaller scale keeps logits O(1) and greedy decoding from
                # collapsing into repeating the input token.
                std = 1 / math.sqrt(p.shape[1]) if tied else 0.5
                v = torch.randn(p.shape, generator=g) * std
            else:
                fan_in = p.shape[1]
                gain = 1.5 if (".q_proj." in name or ".k_proj." in name) else 1.0
                v = torch.randn(p.shape, generator=g) * (gain / math.sqrt(fan_in))
            p.copy_(v.to(p.dtype))


# ---------------------------------------------------------------------------
# forward passes


@torch.no_grad()
def prefill_logits(model, ids, attention_mask=None):
    out = model(input_ids=ids, attention_mask=attention_mask, use_cache=False)
    return out.logits[0].float()


@torch.no_grad()
def incremental_logits(model, ids):
    """Feed the prompt one token at a time through HF's KV cache (DynamicCache)."""
    past = None
    rows = []
    for t in range(ids.shape[1]):
        out = model(input_ids=ids[:, t : t + 1], past_key_values=past, use_cache=True)
        past = out.past_key_values
        rows.append(out.logits[0, -1].float())
    return torch.stack(rows), type(past).__name__, [type(l).__name__ for l in past.layers]


@torch.no_grad()
def greedy(model, ids):
    """model.generate greedy, never stopping early on eos.

    transformers 5.23 fills every None field of a GenerationConfig passed to generate from
    model.generation_config, so passing eos_token_id=None alone does NOT disable eos (it
    stopped qwen2-tiny after 16 tokens). So model.generation_config is swapped, for the call
    only, for one without eos, and the same config is passed explicitly; the only stopping
    criterion left is max_new_tokens. min_new_tokens is deliberately not used: it works by
    masking eos logits to -inf, which would change the argmax.
    """
    gc = GenerationConfig(
        do_sample=False,
        max_new_tokens=NEW_TOKENS,
        eos_token_id=None,
        pad_token_id=0,
        bos_token_id=BOS,
        use_cache=True,
    )
    saved = model.generation_config
    model.generation_config = copy.deepcopy(gc)
    try:
        out = model.generate(ids, generation_config=gc, attention_mask=torch.ones_like(ids))
    finally:
        model.generation_config = saved
    cont = out[0, ids.shape[1] :].tolist()
    if len(cont) != NEW_TOKENS:
        raise SystemExit(f"generate returned {len(cont)} tokens, want {NEW_TOKENS}")
    # Cross-check against a cache-free greedy loop (full prefill each step).
    seq = ids
    manual = []
    for _ in range(NEW_TOKENS):
        nxt = int(prefill_logits(model, seq)[-1].argmax())
        manual.append(nxt)
        seq = torch.cat([seq, torch.tensor([[nxt]])], dim=1)
    return cont, manual


# ---------------------------------------------------------------------------
# checks


def llama3_inv_freq_report(model):
    """Compare the model's (llama3-scaled) inverse frequencies with plain RoPE."""
    cfg = model.config
    head_dim = cfg.hidden_size // cfg.num_attention_heads
    theta = cfg.rope_parameters["rope_theta"]
    plain = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    scaled = model.model.rotary_emb.inv_freq.float().cpu()
    rp = cfg.rope_parameters
    low_wl = rp["original_max_position_embeddings"] / rp["low_freq_factor"]
    high_wl = rp["original_max_position_embeddings"] / rp["high_freq_factor"]
    rows = []
    for i, (a, b) in enumerate(zip(plain.tolist(), scaled.tolist())):
        wl = 2 * math.pi / a
        regime = "kept" if wl < high_wl else ("divided by factor" if wl > low_wl else "smoothed")
        rows.append(
            {"i": i, "plain": a, "scaled": b, "wavelen": wl, "regime": regime, "changed": a != b}
        )
    return rows


def mask4d(T, keep):
    """Additive float mask [1, 1, T, T]: 0 where keep(i, j), -inf (finfo.min) elsewhere."""
    i = torch.arange(T)[:, None]
    j = torch.arange(T)[None, :]
    m = torch.full((T, T), torch.finfo(torch.float32).min)
    m[keep(i, j)] = 0.0
    return m[None, None]


def sliding_window_rule(model, ids, logits):
    """Find which key positions a query sees, by feeding explicit 4D masks."""
    W = model.config.sliding_window
    T = ids.shape[1]
    causal = lambda i, j: j <= i
    cands = {
        "j > i - W (W keys incl. itself)": lambda i, j: (j <= i) & (j > i - W),
        "j >= i - W (W+1 keys incl. itself)": lambda i, j: (j <= i) & (j >= i - W),
        "j > i - W + 1 (W-1 keys)": lambda i, j: (j <= i) & (j > i - W + 1),
    }
    res = {}
    full = prefill_logits(model, ids, mask4d(T, causal))
    res["no window (plain causal) vs windowed"] = float((full - logits).abs().max())
    res["no window vs windowed, positions < W only"] = float((full[:W] - logits[:W]).abs().max())
    for k, f in cands.items():
        res[k] = float((prefill_logits(model, ids, mask4d(T, f)) - logits).abs().max())
    return res


def describe_safetensors(d):
    files = sorted(f for f in os.listdir(d) if f.endswith(".safetensors"))
    info = {}
    for f in files:
        with safe_open(os.path.join(d, f), framework="pt") as st:
            info[f] = {k: (st.get_slice(k).get_dtype(), st.get_slice(k).get_shape()) for k in st.keys()}
    return info


# ---------------------------------------------------------------------------


def build(name, make_cfg, cls, seed, store_dtype, save_kwargs, gen_eos, root):
    log(f"\n===== {name} =====")
    out_dir = os.path.join(root, name)
    os.makedirs(out_dir, exist_ok=True)
    for f in os.listdir(out_dir):  # stale shards from an earlier layout must not linger
        if f.endswith(".safetensors") or f.endswith(".safetensors.index.json"):
            os.remove(os.path.join(out_dir, f))

    torch.manual_seed(seed)
    cfg = make_cfg()
    model = cls._from_config(cfg, attn_implementation="eager", dtype=torch.float32).to(DEVICE).eval()
    assert model.config._attn_implementation == "eager", model.config._attn_implementation
    randomize(model, seed)
    model.generation_config = GenerationConfig(bos_token_id=BOS, eos_token_id=gen_eos)

    notes = [
        "weights: seeded random (norm weights U(0.5,1.5); biases N(0,0.25); embeddings N(0,0.25), "
        "or N(0,1/hidden) when tied; "
        "linear N(0,(g/sqrt(fan_in))^2), g=1.5 for q/k, else 1)",
        "logits: one full-prefill forward pass, float32, attn_implementation=eager, CPU, torch.set_num_threads(1)",
    ]
    if store_dtype != torch.float32:
        model = model.to(store_dtype)
        notes.append(
            f"stored as {str(store_dtype).removeprefix('torch.')}; golden logits computed from the model upcast "
            "to float32 from those exact stored values"
        )
    model.save_pretrained(out_dir, **save_kwargs)
    if store_dtype != torch.float32:
        # Not model.float(): .to(bf16) also rounded the non-persistent RoPE inv_freq buffers, and a
        # round trip would keep that rounding. Build a fresh float32 model (inv_freq computed in f32,
        # as from_pretrained does) and load the exactly upcast stored parameters into it.
        stored = {k: v.float() for k, v in model.state_dict().items()}
        torch.manual_seed(seed)
        model = cls._from_config(cfg, attn_implementation="eager", dtype=torch.float32).to(DEVICE).eval()
        model.load_state_dict(stored, strict=True)
        model.generation_config = GenerationConfig(bos_token_id=BOS, eos_token_id=gen_eos)
    assert model.model.rotary_emb.inv_freq.dtype == torch.float32

    g = torch.Generator().manual_seed(seed + 7)
    rest = torch.randint(FIRST_ORDINARY_ID, VOCAB, (PROMPT_LEN - 1,), generator=g)
    ids = torch.cat([torch.tensor([BOS]), rest])[None]

    logits = prefill_logits(model, ids)
    assert logits.shape == (PROMPT_LEN, VOCAB)
    inc, cache_cls, layer_cls = incremental_logits(model, ids)
    inc_diff = float((inc - logits).abs().max())
    cont, manual = greedy(model, ids)
    log(f"logits: mean {logits.mean():.4f} std {logits.std():.4f} min {logits.min():.3f} max {logits.max():.3f}")
    log(f"max |prefill - incremental (KV cache, {cache_cls}{layer_cls})| = {inc_diff:.3e}")
    log(f"greedy continuation (generate): {cont}")
    log(f"greedy continuation (no-cache argmax loop) matches: {cont == manual}")
    if cont != manual:
        log(f"  no-cache loop gave {manual}")

    logits.numpy().astype("<f4").tofile(os.path.join(out_dir, "logits.f32"))

    golden = {
        "input_ids": ids[0].tolist(),
        "vocab_size": VOCAB,
        "logits_file": "logits.f32",
        "shape": [PROMPT_LEN, VOCAB],
        "dtype": "float32 little-endian, row-major",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "safetensors": safetensors.__version__,
        "numpy": np.__version__,
        "seed": seed,
        "max_abs_diff_incremental": inc_diff,
        "incremental_cache": f"{cache_cls} with layers {layer_cls}; one token per forward call, use_cache=True",
        "greedy_continuation": cont,
        "greedy_settings": (
            f"model.generate(input_ids, attention_mask=ones, generation_config=gc) with gc = GenerationConfig("
            f"do_sample=False, max_new_tokens={NEW_TOKENS}, eos_token_id=None, pad_token_id=0, use_cache=True) "
            "and model.generation_config temporarily replaced by gc too (transformers fills None fields from "
            "model.generation_config, so eos_token_id=None alone does not disable eos). No eos stop, no logits "
            f"masked (no min_new_tokens); equal to a cache-free argmax loop over full prefills: {cont == manual}"
        ),
        "notes": notes,
    }
    eos_ids = gen_eos if isinstance(gen_eos, list) else [gen_eos]
    hits = [(k, t) for k, t in enumerate(cont) if t in eos_ids]
    if hits:
        notes.append(
            f"greedy_continuation contains generation_config eos ids {hits} (index, id): generate kept going "
            "because eos_token_id=None was passed"
        )
    if name == "llama-tiny":
        notes.append(
            "transformers warns that original_max_position_embeddings (8192) is not less than "
            "max_position_embeddings (256); it is only a warning, the llama3 inverse frequencies are computed "
            "from the rope_parameters as in Llama 3.1"
        )

    extra = {}
    if name == "llama-tiny":
        rows = llama3_inv_freq_report(model)
        log("llama3 rope scaling, inverse frequencies (head_dim 16):")
        for r in rows:
            log(
                f"  i={r['i']} plain={r['plain']:.6e} scaled={r['scaled']:.6e} "
                f"wavelen={r['wavelen']:.1f} {r['regime']}{' CHANGED' if r['changed'] else ''}"
            )
        changed = [r["i"] for r in rows if r["changed"]]
        assert changed, "llama3 scaling changed no inverse frequency"
        plain_model = copy.deepcopy(model)
        rp = dict(model.config.rope_parameters)
        plain_cfg = copy.deepcopy(model.config)
        plain_cfg.rope_parameters = {"rope_type": "default", "rope_theta": rp["rope_theta"]}
        plain_model.model.rotary_emb = type(model.model.rotary_emb)(plain_cfg)
        d = float((prefill_logits(plain_model, ids) - logits).abs().max())
        log(f"max |logits(llama3 rope) - logits(plain rope)| = {d:.3e}")
        golden["rope_inv_freq"] = [r["scaled"] for r in rows]
        golden["notes"].append(
            f"llama3 rope scaling changes inverse frequencies {changed} of {len(rows)} "
            f"({', '.join(r['regime'] for r in rows if r['changed'])}); "
            f"max |logits - logits with plain rope| = {d:.3e}"
        )
        extra["inv_freq"] = rows
        extra["rope_effect"] = d
    if name == "mistral-tiny":
        rule = sliding_window_rule(model, ids, logits)
        log("sliding window rule, max |logits(explicit 4D mask) - logits(model's own mask)|:")
        for k, v in rule.items():
            log(f"  {k}: {v:.3e}")
        golden["sliding_window_rule"] = (
            "query at position i attends key positions j with i - W < j <= i (W = sliding_window keys, itself "
            "included); determined empirically with explicit 4D masks: " + json.dumps(rule)
        )
        extra["sliding"] = rule

    with open(os.path.join(out_dir, "golden.json"), "w") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")

    # --- verify what transformers wrote
    with open(os.path.join(out_dir, "config.json")) as f:
        log("config.json as written:\n" + f.read())
    with open(os.path.join(out_dir, "generation_config.json")) as f:
        log("generation_config.json as written:\n" + f.read())
    st = describe_safetensors(out_dir)
    for fn, tensors in st.items():
        log(f"{fn}: {len(tensors)} tensors, dtypes {sorted({v[0] for v in tensors.values()})}")
    want = {torch.float32: "F32", torch.bfloat16: "BF16"}[store_dtype]
    assert all(v[0] == want for t in st.values() for v in t.values()), "unexpected stored dtype"
    idx = os.path.join(out_dir, "model.safetensors.index.json")
    if save_kwargs.get("max_shard_size"):
        with open(idx) as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
        log(f"index shards: {shards}")
        assert len(shards) >= 2, "wanted at least two shards"
    if name == "qwen2-tiny":
        names = {k for t in st.values() for k in t}
        assert "lm_head.weight" not in names, "tied lm_head should not be stored"
        assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
        for b in ("q_proj.bias", "k_proj.bias", "v_proj.bias"):
            t = model.model.layers[0].self_attn.__getattr__(b.split(".")[0]).bias
            log(f"layer0 {b}: abs mean {t.abs().mean():.3f}")

    re = cls.from_pretrained(out_dir, dtype=torch.float32, attn_implementation="eager").eval()
    re_diff = float((prefill_logits(re, ids) - logits).abs().max())
    log(f"reloaded with from_pretrained: max |diff| vs golden logits = {re_diff}")
    assert re_diff == 0.0, "reloaded checkpoint does not reproduce golden logits"
    stored = np.fromfile(os.path.join(out_dir, "logits.f32"), dtype="<f4").reshape(PROMPT_LEN, VOCAB)
    assert np.array_equal(stored, logits.numpy())

    sizes = {f: os.path.getsize(os.path.join(out_dir, f)) for f in sorted(os.listdir(out_dir))}
    log(f"files: {sizes} total {sum(sizes.values())} bytes")
    return {"inc": inc_diff, "cont": cont, "reload": re_diff, **extra}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "testdata"), help="testdata directory")
    ap.add_argument("--only", action="append", help="model dir name to build (repeatable)")
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    log(
        f"python {sys.version.split()[0]} torch {torch.__version__} transformers {transformers.__version__} "
        f"safetensors {safetensors.__version__} numpy {np.__version__}"
    )
    root = os.path.abspath(args.out)
    summary = {}
    for m in MODELS:
        if args.only and m[0] not in args.only:
            continue
        summary[m[0]] = build(*m, root)
    log("\n===== summary =====")
    for k, v in summary.items():
        log(f"{k}: incremental max diff {v['inc']:.3e}, reload diff {v['reload']}, greedy {v['cont']}")


if __name__ == "__main__":
    main()
