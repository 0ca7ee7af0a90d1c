#!/usr/bin/env python3
"""Independent check of testdata/*-tiny golden logits: numpy only, float64, from the files.

Reads config.json, the safetensors (parsed by hand: 8-byte little-endian header length,
JSON header, raw little-endian data; BF16 widened by shifting into the high half of an
F32), and golden.json, runs the forward pass written out below (no torch, no
transformers) and prints max |numpy - logits.f32| per model. It spells out the
conventions a reimplementation must follow:

  * RMSNorm: x / sqrt(mean(x^2) + eps) * w
  * RoPE: rotate-half (pairs (d, d + head_dim/2)), not interleaved; llama3 scaling as below
  * GQA: query head h uses KV head h // (num_heads / num_kv_heads)
  * sliding window W: query i sees keys j with i - W < j <= i
  * scores scaled by 1/sqrt(head_dim); MLP down(silu(gate(x)) * up(x))
  * tie_word_embeddings: lm_head = embed_tokens
"""

import json
import math
import os
import struct
import sys

import numpy as np


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        a, b = meta["data_offsets"]
        raw = data[a:b]
        if meta["dtype"] == "F32":
            t = np.frombuffer(raw, dtype="<f4")
        elif meta["dtype"] == "BF16":
            t = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise ValueError(meta["dtype"])
        out[name] = t.reshape(meta["shape"]).astype(np.float64)
    return out


def load_weights(d):
    idx = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(idx):
        files = sorted(set(json.load(open(idx))["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    w = {}
    for f in files:
        w.update(load_safetensors(os.path.join(d, f)))
    return w


def inv_freq(cfg, head_dim):
    rp = cfg["rope_parameters"]
    inv = 1.0 / (rp["rope_theta"] ** (np.arange(0, head_dim, 2) / head_dim))
    if rp.get("rope_type", "default") == "llama3":
        factor, lo, hi, orig = rp["factor"], rp["low_freq_factor"], rp["high_freq_factor"], rp["original_max_position_embeddings"]
        wl = 2 * math.pi / inv
        smooth = (orig / wl - lo) / (hi - lo)
        scaled = np.where(wl > orig / lo, inv / factor, inv)
        mid = (wl >= orig / hi) & (wl <= orig / lo)
        scaled = np.where(mid, (1 - smooth) * inv / factor + smooth * inv, scaled)
        inv = scaled
    elif rp.get("rope_type", "default") != "default":
        raise ValueError(rp["rope_type"])
    return inv


def rmsnorm(x, w, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def rope(x, pos, inv):  # x [T, H, D]
    ang = pos[:, None] * inv[None, :]  # [T, D/2]
    cos = np.concatenate([np.cos(ang)] * 2, -1)[:, None, :]
    sin = np.concatenate([np.sin(ang)] * 2, -1)[:, None, :]
    h = x.shape[-1] // 2
    rot = np.concatenate([-x[..., h:], x[..., :h]], -1)
    return x * cos + rot * sin


def forward(cfg, w, ids):
    T = len(ids)
    H, KV = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    D = cfg.get("head_dim") or cfg["hidden_size"] // H
    eps = cfg["rms_norm_eps"]
    W = cfg.get("sliding_window") if cfg["model_type"] == "mistral" else None
    inv = inv_freq(cfg, D)
    pos = np.arange(T, dtype=np.float64)
    i, j = np.arange(T)[:, None], np.arange(T)[None, :]
    visible = j <= i
    if W is not None:
        visible &= j > i - W
    x = w["model.embed_tokens.weight"][ids]
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = rmsnorm(x, w[p + "input_layernorm.weight"], eps)

        def proj(name):
            y = h @ w[p + f"self_attn.{name}.weight"].T
            b = w.get(p + f"self_attn.{name}.bias")
            return y if b is None else y + b

        q = rope(proj("q_proj").reshape(T, H, D), pos, inv)
        k = rope(proj("k_proj").reshape(T, KV, D), pos, inv)
        v = proj("v_proj").reshape(T, KV, D)
        out = np.empty((T, H, D))
        for hh in range(H):
            kv = hh // (H // KV)
            s = q[:, hh] @ k[:, kv].T / math.sqrt(D)
            s = np.where(visible, s, -np.inf)
            s = np.exp(s - s.max(-1, keepdims=True))
            out[:, hh] = (s / s.sum(-1, keepdims=True)) @ v[:, kv]
        x = x + out.reshape(T, H * D) @ w[p + "self_attn.o_proj.weight"].T
        h = rmsnorm(x, w[p + "post_attention_layernorm.weight"], eps)
        g = h @ w[p + "mlp.gate_proj.weight"].T
        u = h @ w[p + "mlp.up_proj.weight"].T
        x = x + (g / (1 + np.exp(-g)) * u) @ w[p + "mlp.down_proj.weight"].T
    x = rmsnorm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings") else w["lm_head.weight"]
    return x @ head.T


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testdata")
    worst = 0.0
    for name in ("llama-tiny", "mistral-tiny", "qwen2-tiny"):
        d = os.path.join(root, name)
        cfg = json.load(open(os.path.join(d, "config.json")))
        g = json.load(open(os.path.join(d, "golden.json")))
        want = np.fromfile(os.path.join(d, g["logits_file"]), dtype="<f4").reshape(g["shape"])
        got = forward(cfg, load_weights(d), np.array(g["input_ids"]))
        diff = float(np.abs(got - want).max())
        worst = max(worst, diff)
        print(f"{name}: max |numpy float64 - golden| = {diff:.3e} (logits max |.| {np.abs(want).max():.2f})")
    sys.exit(0 if worst < 1e-4 else 1)


if __name__ == "__main__":
    main()
