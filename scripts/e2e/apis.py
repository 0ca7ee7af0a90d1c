#!/usr/bin/env python3
"""End-to-end checks of the other API shapes on `bin/sota serve` (run by
`make e2e`), through the official SDKs, on the fake backend with a key
database (tenant acme, team tier):

  * vLLM's POST /tokenize (prompt and chat messages) and POST /detokenize;
  * the Anthropic Messages API with the `anthropic` SDK: messages.create,
    the event sequence of a stream (message_start, content_block_start,
    content_block_delta..., content_block_stop, message_delta, message_stop),
    messages.stream's text, the key in x-api-key and as a Bearer token, and
    a bad key raising AuthenticationError;
  * the OpenAI Responses API with the `openai` SDK: responses.create, a
    stream's events, store and responses.retrieve, previous_response_id.

    python scripts/e2e/apis.py [--sota bin/sota]

Exits 1 on the first failed check, printing the server's log.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import urllib.request

import anthropic
import openai

from sotaserver import Fail, SotaServer, expect

MODEL = "stories260k"


def post(srv: SotaServer, path: str, body: dict) -> dict:
    req = urllib.request.Request(srv.base + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json",
                                          "Authorization": "Bearer " + srv.keys["acme"]})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)


def check_tokenize(srv: SotaServer):
    t = post(srv, "/tokenize", {"model": MODEL, "prompt": "Once upon a time", "return_token_strs": True})
    expect(t["count"] == len(t["tokens"]) > 0 and t["max_model_len"] > 0 and len(t["token_strs"]) == t["count"],
           f"/tokenize: {t}")
    d = post(srv, "/detokenize", {"model": MODEL, "tokens": t["tokens"]})
    expect("Once upon a time" in d["prompt"], f"/detokenize: {d}")
    c = post(srv, "/tokenize", {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}]})
    expect(c["count"] > 0, f"/tokenize messages: {c}")


def check_anthropic(srv: SotaServer):
    key = srv.keys["acme"]
    client = anthropic.Anthropic(base_url=srv.base, api_key=key, max_retries=0)
    msg = client.messages.create(model=MODEL, max_tokens=8, messages=[{"role": "user", "content": "Once upon a time"}])
    expect(msg.type == "message" and msg.role == "assistant" and msg.content and msg.content[0].type == "text",
           f"messages.create: {msg}")
    expect(msg.stop_reason in ("end_turn", "max_tokens") and msg.usage.input_tokens > 0 and msg.usage.output_tokens > 0,
           f"messages.create stop/usage: {msg}")
    kinds, text = [], ""
    for ev in client.messages.create(model=MODEL, max_tokens=8, stream=True,
                                     messages=[{"role": "user", "content": "Once upon a time"}]):
        kinds.append(ev.type)
        if ev.type == "content_block_delta":
            text += ev.delta.text
    expect(kinds[0] == "message_start" and kinds[1] == "content_block_start" and kinds[-3:] ==
           ["content_block_stop", "message_delta", "message_stop"] and "content_block_delta" in kinds,
           f"stream events: {kinds}")
    expect(text != "", "stream gave no text")
    with client.messages.stream(model=MODEL, max_tokens=8, messages=[{"role": "user", "content": "Once"}]) as st:
        streamed = "".join(st.text_stream)
        final = st.get_final_message()
    expect(streamed == final.content[0].text and final.usage.output_tokens > 0, f"messages.stream: {streamed!r} {final}")
    bearer = anthropic.Anthropic(base_url=srv.base, auth_token=key, max_retries=0)
    expect(bearer.messages.create(model=MODEL, max_tokens=2, messages=[{"role": "user", "content": "x"}]).type == "message",
           "Bearer auth")
    try:
        anthropic.Anthropic(base_url=srv.base, api_key="sk-sota-wrong", max_retries=0).messages.create(
            model=MODEL, max_tokens=2, messages=[{"role": "user", "content": "x"}])
        raise Fail("a bad key was accepted")
    except anthropic.AuthenticationError as e:
        expect(e.body["type"] == "error" and e.body["error"]["type"] == "authentication_error", f"error body {e.body}")
    try:
        client.messages.create(model=MODEL, max_tokens=0, messages=[{"role": "user", "content": "x"}])
        raise Fail("max_tokens 0 was accepted")
    except anthropic.BadRequestError:
        pass


def check_responses(srv: SotaServer):
    pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sota", default="bin/sota")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="sota-e2e-apis-")
    srv = None
    try:
        srv = SotaServer(args.sota, work, {"acme": "team"}, ["--fake-step-delay", "2ms"])
        check_tokenize(srv)
        check_anthropic(srv)
        check_responses(srv)
        srv.stop()
        print("apis: ok")
    except (Fail, Exception) as e:
        print(f"apis: FAIL: {e}", file=sys.stderr)
        if srv:
            print(srv.log_tail(), file=sys.stderr)
            srv.kill()
        sys.exit(1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
