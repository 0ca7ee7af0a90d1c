#!/usr/bin/env python3
"""Generate testdata/tokenizer/*.json: reference token ids and decoded text
from the Hugging Face `tokenizers` package for the shared tokenizers (and a
few variants of them that exercise other pipeline components).

Usage (from the repository root):
    /tmp/hfvenv/bin/python scripts/gen_tokenizer_golden.py [--models DIR] [--out DIR]

DIR defaults: ../shared/models beside the repository (or $SOTA_SHARED_MODELS)
and testdata/tokenizer. CI never runs this; the outputs are committed and the
Go tests in tokenizer/ compare against them.

Each output file holds:
  base     shared-models directory of the tokenizer
  patch    top-level tokenizer.json keys replaced before loading ({} for none)
  cases    [{text, ids, ids_special, decoded, decoded_skip}] where ids is
           encode(text, add_special_tokens=False), ids_special the same with
           True, and decoded/decoded_skip are decode(ids_special) with
           skip_special_tokens False/True
  decode   [{ids, decoded, decoded_skip}] for id sequences not produced by
           encoding (byte tokens out of order, special tokens, stray ids)
"""

import argparse
import json
import os
import random
import sys

import tokenizers
from tokenizers import Tokenizer

LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
GPT2_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"

PROSE = [
    "Once upon a time, there was a little girl named Lily.",
    "The quick brown fox jumps over the lazy dog.",
    "She wanted to play with it, but it was too high.\nLily's mom said, \"Lily, let's go to the park.\"",
    "In 1492, Columbus sailed the ocean blue; in 1969, Apollo 11 landed on the Moon.",
    "Hello world",
    "Hello, World! How are you doing today?",
    "It was the best of times, it was the worst of times, it was the age of wisdom.",
    "Mr. Smith paid $4.99 for 3 apples (and a pear) at 10:30am.",
    "E-mail me at someone@example.com or visit https://example.org/path?q=1&r=two#frag.",
    "Semicolons; colons: dashes -- em—dashes – en–dashes... ellipses… and 'quotes' “curly” «guillemets».",
    "A sentence with trailing spaces.   ",
    "UPPERCASE lowercase MiXeD cAsE",
    "Tab\tseparated\tvalues\tare\there",
    "Windows\r\nline\r\nendings\r\n",
    "naïve café résumé coöperate façade jalapeño",
    "Zürich, 3.14159 — ok?",
    "The year 2024 had 366 days; 2023 had 365.",
    "x y",
    "a",
    "",
]

WHITESPACE = [
    " ", "  ", "   ", "\n", "\n\n", "\n\n\n", " \n ", "\t", "\t\t", "\r", "\r\n", "\n\r",
    "a  b", "a   b  ", "a \n b", "a\n\nb", "a \n\n  b", "  leading", "trailing  ", " both ",
    "x \n\n  y", "\n  indented\n    more\n", "word\n", "word \n", "word  \nnext",
    "a\u00a0b", "\u00a0\u00a0x", "\u3000ideographic\u3000space", "a\u2028b\u2029c", "\u0085next",
    "a\x0bb\x0cc", "\u2003em\u2009thin\u200ahair", " " * 40, "a" + " " * 17 + "b", "\n" * 10 + "x",
    " \t \n \t ", "end with newline\n", "  \n", "\n  ", " ?", " ?!", "  ?!\n\n", "?\n\n\nx",
    "\t\tdef f():\n\t\t\treturn 1\n",
]

DIGITS = [
    "1", "12", "123", "1234", "12345", "123456", "1234567", "12345678901234567890",
    "3.14159", "1,000,000", "-42", "+7", "0x1F", "1e-10", "v1.2.3", "2024-06-01T12:34:56Z",
    "\uff12\uff10\uff12\uff14", "\u0663\u0664\u0665", "\u2167 \u216b", "x\u00b2 + y\u00b3", "\u00bd \u00bc",
    "call 555-0100 ext. 12", "pi=3.141592653589793238462643383279", "007", "1 2 3 4 5", "a1b2c3",
]

CODE = [
    "def add(a, b):\n    return a + b\n",
    "for (int i = 0; i < n; ++i) { sum += a[i]; }",
    "func main() {\n\tfmt.Println(\"hi\")\n}\n",
    "{\"key\": \"value\", \"list\": [1, 2, 3], \"nested\": {\"x\": null}}",
    "<div class=\"box\"><p>Hello &amp; welcome</p></div>",
    "SELECT * FROM users WHERE id = 42 AND name LIKE '%bob%';",
    "const f = (x) => x ** 2; // arrow function",
    "if x != None and y >= 3:\n    print(f\"{x=}, {y!r}\")",
    "#include <stdio.h>\nint main(void){printf(\"%d\\n\", 1<<4);}",
    "$ ls -la | grep '^d' && echo done",
    "a_b_c __init__ CamelCaseName snake_case_name kebab-case-name",
    "x+=1;y-=2;z*=3;w/=4",
    "    indented four\n        eight\n",
    "fn main() -> Result<(), Box<dyn Error>> { Ok(()) }",
    "re.compile(r'\\s+(?!\\S)')",
    "\"\"\"docstring\"\"\"\n'''other'''",
    "====\n----\n****\n____",
    "`code` ``double`` ```triple```",
]

CONTRACTIONS = [
    "DON'T", "don't", "we'RE", "We're", "I'm", "I'M", "it's", "IT'S", "they'll", "THEY'LL",
    "you've", "YOU'VE", "he'd", "HE'D", "'s", "'S", "'sup", "'SUP", "o'clock", "rock'n'roll",
    "y'all", "'ll", "'LL", "'Ve", "'d've", "can't won't shouldn't", "Lily's mom's car's",
    "' s", "''", "'", "x'", "'re'", "'Re", "'rE", "'\u017f", "'T", "l'eau", "aujourd'hui",
]

UNICODE = [
    "東京は日本の首都です。", "你好，世界！", "한국어 텍스트입니다", "こんにちは、カタカナとひらがな",
    "Привет, мир!", "Γειά σου Κόσμε", "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया", "สวัสดีชาวโลก",
    "café naïve 東京 🙂", "Ελληνικά και English mixed", "中文English混合123",
    "👍", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "👩🏽‍💻", "🇺🇸🇯🇵", "1️⃣", "❤️", "a👍b", " 🙂 🙃 ", "🙂🙂🙂🙂",
    "e\u0301", "Cafe\u0301", "\u212b", "\u1e9b\u0323", "\u1112\u1161\u11ab", "\ufb01", "A\u030a",
    "o\u0308\u0304", "\u0958", "\u2126 \u00c5", "x\u0301\u0301\u0301", "\u0301start", "e\u0301\u0065\u0301",
    "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034da",
    "\U0001d400\U0001d401", "\U00020000\U0002a6d6", "\U0001f600\U0001f64f", "\u0378\u0379",
    "\ufffd", "a\ufffdb", "\uffff", "\U0010ffff", "\u00ad soft hyphen",
    "\U000105c0\U000105c1 \U00010d40\U00010d41", "ſ ß ẞ K Å ǅ",
    # Marks the reference's normalization tables predate (combining class 0
    # there) and a composition they lack.
    "a\u1ac2\u20ec", "\u0627\u08ca\u0653\u0650", "\U00011935\U00011930", "\u0915\u093c\u1ddb\u064c\u1df6",
    "\ua7f2\u32ff \U0001f16c",
]

SPECIAL_SPELLINGS = [
    "<s>", "</s>", "<unk>", "<s>Hello</s>", " <s> ", "Hello <s> world", "Hello<s>world", "<s><s>", "<<s>>",
    "<s", "s>", "</s></s>x", "<unk> x <unk>",
    "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
    "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are helpful.<|eot_id|>",
    "<|eot_id|>", "<|end_of_text|>", "<|endoftext|>", "<|im_start|><|im_start|>", "<|im_start", "im_start|>",
    "<think>\nhmm\n</think>\n\nAnswer", "<tool_call>\n{\"name\": \"f\"}\n</tool_call>", "x<think>y", " <think> ",
    "<|reserved_special_token_5|>", "<|python_tag|>print(1)<|eom_id|>", "<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>",
    "<0x41>", "<0xE4><0xB8><0x80>", "<0x0A>", "<0x>", "<0xZZ>", "▁", "▁▁x", "▁Hello", "Ġhello", "Ċ",
]

CONTROL = [
    "\x00", "a\x00b", "\x01\x02\x03", "\x7f", "\x1b[31mred\x1b[0m", "\u200b", "a\u200bb", "\ufeffBOM",
    "\u200d", "\u200c", "\u2060", "\x08\x09", "\x1c\x1d\x1e\x1f", "\u0080\u0081\u009f", "\u202e reversed",
    "\ue000 private", "\U000f0000",
]

POOL = (
    list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    + list(" \t\n\r\u00a0\u3000'\".,;:!?-_()[]{}<>|/\\@#$%^&*+=~`")
    + list("éüñçßøåæœ€£¥©®°±×÷µ¶§")
    + list("日本語中文한국어ñÅΩπ∑√∞≈≠≤≥") + ["👍", "🙂", "👨‍👩‍👧", "e\u0301", "\u0301", "\u200b", "\x00", "\x1b", "２", "٣"]
    + ["<s>", "</s>", "<|im_start|>", "<|im_end|>", "<|eot_id|>", "<think>", "<0x41>", "'s", "'RE", "▁", "Ġ"]
)


def random_strings(rng, n, max_len):
    out = []
    for _ in range(n):
        k = rng.randint(1, max_len)
        out.append("".join(rng.choice(POOL) for _ in range(k)))
    return out


def corpus():
    rng = random.Random(20240601)
    long_prose = " ".join(PROSE[:10]) * 3
    items = PROSE + WHITESPACE + DIGITS + CODE + CONTRACTIONS + UNICODE + SPECIAL_SPELLINGS + CONTROL
    items += [
        long_prose,
        "a" * 300,
        "ab" * 150,
        "9" * 100,
        " " * 200 + "x",
        "東京" * 60,
        "👍" * 40,
        "supercalifragilisticexpialidocious" * 5,
        "\n".join("line %d: value=%d" % (i, i * i) for i in range(30)),
    ]
    items += random_strings(rng, 120, 24)
    seen, out = set(), []
    for s in items:
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


def small_corpus():
    # Variants use a subset to keep their files small.
    c = corpus()
    rng = random.Random(7)
    keep = c[:60] + [s for s in UNICODE if s not in c[:60]]
    rest = [s for s in c if s not in keep]
    return keep + rng.sample(rest, 150 - len(keep))


def decode_sequences(tok, rng):
    vocab_size = tok.get_vocab_size(with_added_tokens=True)
    vocab = tok.get_vocab(with_added_tokens=True)
    byte_ids = [vocab[f"<0x{b:02X}>"] for b in range(256) if f"<0x{b:02X}>" in vocab]
    added = sorted(tok.get_added_tokens_decoder().keys())
    seqs = []
    for i in range(40):
        n = rng.randint(1, 12)
        seq = []
        for _ in range(n):
            r = rng.random()
            if r < 0.3 and byte_ids:
                seq.append(rng.choice(byte_ids))
            elif r < 0.45 and added:
                seq.append(rng.choice(added))
            else:
                seq.append(rng.randrange(vocab_size))
        seqs.append(seq)
    seqs.append([])
    if byte_ids and len(byte_ids) == 256:
        b = {k: byte_ids[k] for k in range(256)}
        seqs.append([b[0x41], b[0xFF], b[0x42]])
        seqs.append([b[0xE4], b[0xB8], b[0x80], b[0xE4], b[0xB8]])
        seqs.append([b[0xE4], b[0xB8], b[0x80], b[0xE4], vocab.get("▁the", 0)])
        seqs.append([b[0xF0], b[0x9F], b[0x98], b[0x80], b[0x80]])
    return seqs


def variants(models):
    q3 = "qwen3-tokenizer"
    l2 = "llama2-tokenizer"
    qwen_added = json.load(open(os.path.join(models, q3, "tokenizer.json")))["added_tokens"]
    extra = [
        {"id": 151669, "content": "<LS>", "single_word": False, "lstrip": True, "rstrip": False, "normalized": False, "special": True},
        {"id": 151670, "content": "<RS>", "single_word": False, "lstrip": False, "rstrip": True, "normalized": False, "special": False},
        {"id": 151671, "content": "qzv", "single_word": True, "lstrip": False, "rstrip": False, "normalized": False, "special": False},
        {"id": 151672, "content": "e\u0301x", "single_word": False, "lstrip": False, "rstrip": False, "normalized": True, "special": False},
        {"id": 151673, "content": "<BOTH>", "single_word": False, "lstrip": True, "rstrip": True, "normalized": False, "special": True},
    ]
    flag_texts = [
        "a <LS> b", "a  <LS>b", "<LS>", "  <LS>  ", "x <RS>   y", "<RS>\n\nz", "qzv", "aqzv", "qzv_", "qzv-x", " qzv ",
        "\u00e9x", "e\u0301x", "caf\u00e9x!", "a <BOTH> b", "\u3000<BOTH>\u00a0c", "<LS><RS><BOTH>", "<RS> <LS>",
        "qzvqzv", "1qzv", "<|im_start|> <LS> <|im_end|>",
    ]
    return [
        ("qwen3-bytelevel-regex", q3, {"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}}, []),
        ("qwen3-bytelevel-prefix", q3, {"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}}, []),
        ("qwen3-added-flags", q3, {"added_tokens": qwen_added + extra}, flag_texts),
        ("qwen3-template-nfkc", q3, {
            "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFKC"}]},
            "post_processor": {"type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": "<|im_start|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "<|im_end|>", "type_id": 0}}],
                "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                "special_tokens": {"<|im_start|>": {"id": "<|im_start|>", "ids": [151644], "tokens": ["<|im_start|>"]},
                                   "<|im_end|>": {"id": "<|im_end|>", "ids": [151645], "tokens": ["<|im_end|>"]}}},
        }, []),
        ("qwen3-split-behaviors", q3, {"pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"String": "e"}, "behavior": "MergedWithPrevious", "invert": False},
            {"type": "Split", "pattern": {"String": " "}, "behavior": "Contiguous", "invert": False},
            {"type": "Split", "pattern": {"String": "o"}, "behavior": "Removed", "invert": False},
            {"type": "Split", "pattern": {"String": "a"}, "behavior": "MergedWithNext", "invert": True},
            {"type": "Split", "pattern": {"Regex": GPT2_PATTERN}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]}}, []),
        ("llama3-nfd-gpt2", "llama3.1-tokenizer", {
            "normalizer": {"type": "NFD"},
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": GPT2_PATTERN}, "behavior": "Isolated", "invert": False},
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}}, []),
        ("llama2-metaspace", l2, {
            "normalizer": None,
            "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": False},
            "decoder": {"type": "Sequence", "decoders": [{"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": False},
                                                         {"type": "ByteFallback"}, {"type": "Fuse"}]}}, []),
        ("llama2-metaspace-split", l2, {
            "normalizer": None,
            "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True},
            "decoder": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}}, []),
    ]


def load(models, base, patch):
    with open(os.path.join(models, base, "tokenizer.json"), encoding="utf-8") as f:
        d = json.load(f)
    d.update(patch)
    return Tokenizer.from_str(json.dumps(d))


def golden(tok, base, patch, texts, rng):
    cases = []
    for text in texts:
        ids = tok.encode(text, add_special_tokens=False).ids
        ids_special = tok.encode(text, add_special_tokens=True).ids
        cases.append({
            "text": text,
            "ids": ids,
            "ids_special": ids_special,
            "decoded": tok.decode(ids_special, skip_special_tokens=False),
            "decoded_skip": tok.decode(ids_special, skip_special_tokens=True),
        })
    dec = []
    for seq in decode_sequences(tok, rng):
        dec.append({
            "ids": seq,
            "decoded": tok.decode(seq, skip_special_tokens=False),
            "decoded_skip": tok.decode(seq, skip_special_tokens=True),
        })
    return {"tokenizers_version": tokenizers.__version__, "base": base, "patch": patch, "cases": cases, "decode": dec}


def write(path, obj):
    # One case per line keeps diffs readable.
    with open(path, "w", encoding="utf-8") as f:
        f.write("{\n")
        keys = list(obj.keys())
        for i, k in enumerate(keys):
            v = obj[k]
            sep = "," if i < len(keys) - 1 else ""
            if isinstance(v, list):
                f.write(json.dumps(k) + ": [\n")
                for j, item in enumerate(v):
                    f.write("  " + json.dumps(item, ensure_ascii=False, separators=(",", ":")) + ("," if j < len(v) - 1 else "") + "\n")
                f.write("]" + sep + "\n")
            else:
                f.write(json.dumps(k) + ": " + json.dumps(v, ensure_ascii=False, separators=(",", ":")) + sep + "\n")
        f.write("}\n")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default=os.environ.get("SOTA_SHARED_MODELS", os.path.join(root, "..", "shared", "models")))
    ap.add_argument("--out", default=os.path.join(root, "testdata", "tokenizer"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    bases = [
        ("stories260k", "stories260k/hf"),
        ("llama2", "llama2-tokenizer"),
        ("mistral-v1", "mistral-tokenizers/v1"),
        ("llama3.1", "llama3.1-tokenizer"),
        ("qwen2.5", "qwen2.5-tokenizer"),
        ("qwen3", "qwen3-tokenizer"),
    ]
    jobs = [(name, base, {}, corpus()) for name, base in bases]
    jobs += [(name, base, patch, small_corpus() + extra) for name, base, patch, extra in variants(args.models)]
    for name, base, patch, texts in jobs:
        tok = load(args.models, base, patch)
        rng = random.Random(name)
        obj = golden(tok, base, patch, texts, rng)
        path = os.path.join(args.out, name + ".json")
        write(path, obj)
        print(f"{path}: {len(obj['cases'])} cases, {len(obj['decode'])} decode sequences, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    sys.exit(main())
