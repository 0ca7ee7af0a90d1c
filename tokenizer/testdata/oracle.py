#!/usr/bin/env python3
"""Reference side of the tokenizer package's differential tests.

The Go tests (tokenizer/diff_test.go, tokenizer/chat_diff_test.go) run this
script with the project's virtual environment (make pyenv) and compare its
answers with the Go implementation, line by line. It reads one JSON object a
line on stdin and writes one JSON object a line on stdout.

Modes:
  hf TOKENIZER_JSON     Hugging Face `tokenizers`.
                        {"text": s}  -> {"ids", "ids_special", "decoded", "decoded_skip"}
                        {"ids": [...]} -> {"decoded", "decoded_skip"}
  spm MODEL_FILE        SentencePiece itself. Control pieces (and <unk>) in the
                        text are cut out first and map to their ids, as
                        transformers' LlamaTokenizer does; every other stretch
                        is encoded by SentencePiece on its own, with the dummy
                        prefix only at the start of the text.
                        {"text": s}  -> {"ids", "decoded"}
                        {"ids": [...]} -> {"decoded"}
  jinja                 Python Jinja2 set up like transformers' apply_chat_template.
                        {"template", "messages", "tools", "documents",
                         "add_generation_prompt", "kwargs"} -> {"rendered"} or {"error", "kind"}
                        (kind "TemplateError" for raise_exception)
"""

import json
import re
import sys


def hf(path):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(path)

    def answer(req):
        if "ids" in req:
            ids = req["ids"]
            return {"decoded": tok.decode(ids, skip_special_tokens=False),
                    "decoded_skip": tok.decode(ids, skip_special_tokens=True)}
        text = req["text"]
        special = tok.encode(text, add_special_tokens=True).ids
        return {"ids": tok.encode(text, add_special_tokens=False).ids, "ids_special": special,
                "decoded": tok.decode(special, skip_special_tokens=False),
                "decoded_skip": tok.decode(special, skip_special_tokens=True)}

    return answer


def varint(b, i):
    x, shift = 0, 0
    while True:
        c = b[i]
        i += 1
        x |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return x, i


def put_varint(x):
    out = bytearray()
    while True:
        c = x & 0x7F
        x >>= 7
        if x:
            out.append(c | 0x80)
        else:
            out.append(c)
            return bytes(out)


def with_normalizer_field(model, extra):
    """Appends encoded fields to ModelProto.normalizer_spec (field 3)."""
    out, i = bytearray(), 0
    while i < len(model):
        start = i
        tag, i = varint(model, i)
        num, wire = tag >> 3, tag & 7
        if wire == 0:
            _, i = varint(model, i)
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        elif wire == 2:
            n, j = varint(model, i)
            if num == 3:
                body = model[j:j + n] + extra
                out += put_varint(tag) + put_varint(len(body)) + body
                i = j + n
                continue
            i = j + n
        else:
            raise ValueError("unexpected wire type %d" % wire)
        out += model[start:i]
    return bytes(out)


def spm(path):
    import sentencepiece as sp

    data = open(path, "rb").read()
    proc = sp.SentencePieceProcessor(model_proto=data)
    # The same model without the dummy prefix, for text after a control
    # piece (transformers' Metaspace prepend_scheme "first"): a later
    # add_dummy_prefix=false (field 3 of NormalizerSpec) overrides the first.
    bare = sp.SentencePieceProcessor(model_proto=with_normalizer_field(data, b"\x18\x00"))
    special = {}
    for i in range(proc.get_piece_size()):
        if proc.is_control(i) or proc.is_unknown(i):
            piece = proc.id_to_piece(i)
            if piece:
                special[piece] = i
    # Alternatives longest first: Python's re then finds the leftmost, longest match.
    pattern = re.compile("|".join(re.escape(p) for p in sorted(special, key=len, reverse=True)))

    def split(text):
        out, start = [], 0
        for m in pattern.finditer(text):
            if start < m.start():
                out.append(text[start:m.start()])
            out.append(special[m.group()])
            start = m.end()
        if start < len(text):
            out.append(text[start:])
        return out

    def answer(req):
        if "ids" in req:
            return {"decoded": proc.decode(req["ids"])}
        ids = []
        for k, seg in enumerate(split(req["text"])):
            if isinstance(seg, int):
                ids.append(seg)
            else:
                ids.extend((proc if k == 0 else bare).encode(seg))
        return {"ids": ids, "decoded": proc.decode(ids)}

    return answer


def jinja():
    import datetime

    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        # Fixed, so that renderings compare; the Go side is given the same time.
        return datetime.datetime(2024, 7, 26, 12, 0, 0).strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    cache = {}

    def answer(req):
        src = req["template"]
        if src not in cache:
            cache[src] = env.from_string(src)
        # apply_chat_template drops the message keys whose value is None.
        messages = [{k: v for k, v in m.items() if v is not None} for m in req["messages"]]
        kwargs = dict(req.get("kwargs") or {})
        try:
            out = cache[src].render(messages=messages, tools=req.get("tools"), documents=req.get("documents"),
                                    add_generation_prompt=req.get("add_generation_prompt", False), **kwargs)
        except Exception as e:  # noqa: BLE001 - every failure is an answer
            kind = "TemplateError" if type(e) is jinja2.exceptions.TemplateError else type(e).__name__
            return {"error": str(e), "kind": kind}
        return {"rendered": out}

    return answer


def main():
    mode = sys.argv[1]
    if mode == "hf":
        answer = hf(sys.argv[2])
    elif mode == "spm":
        answer = spm(sys.argv[2])
    elif mode == "jinja":
        answer = jinja()
    else:
        sys.exit("unknown mode " + mode)
    out = sys.stdout
    for line in sys.stdin:
        out.write(json.dumps(answer(json.loads(line)), ensure_ascii=True))
        out.write("\n")
    out.flush()


if __name__ == "__main__":
    main()
