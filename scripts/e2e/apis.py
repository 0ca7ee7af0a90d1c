#!/usr/bin/env python3
"""End-to-end checks of the other API shapes on `bin/sota serve` (run by
`make e2e`), through the official SDKs, on the fake backend with a key
database (tenant acme, team tier):

  * vLLM's POST /tokenize (prompt and chat messages) and POST /detokenize;
  * the Anthropic Messages API with the `anthropic` SDK: messages.create,
    the event sequence of a stream (message_start, content_block_start,
    content_block_delta..., content_block_stop, message_delta, message_stop),
    messages.stream's text, messages.count_tokens, the key in x-api-key and as a Bearer token, and
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
import traceback
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
    count = client.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": "Once upon a time"}])
    expect(count.input_tokens == msg.usage.input_tokens, f"count_tokens {count} vs usage {msg.usage}")
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
    client = openai.OpenAI(base_url=srv.base + "/v1", api_key=srv.keys["acme"], max_retries=0)
    r = client.responses.create(model=MODEL, input="Once upon a time", max_output_tokens=8, instructions="Tell a story.")
    expect(r.object == "response" and r.status in ("completed", "incomplete") and r.output[0].type == "message"
           and r.output_text != "" and r.usage.input_tokens > 0 and r.usage.output_tokens > 0, f"responses.create: {r}")
    got = client.responses.retrieve(r.id)
    expect(got.id == r.id and got.output_text == r.output_text, f"responses.retrieve: {got}")
    follow = client.responses.create(model=MODEL, input="And then?", max_output_tokens=4, previous_response_id=r.id)
    expect(follow.previous_response_id == r.id and follow.usage.input_tokens > r.usage.input_tokens,
           f"previous_response_id: {follow.usage} after {r.usage}")
    kinds, text = [], ""
    for ev in client.responses.create(model=MODEL, input="Once upon a time", max_output_tokens=8, stream=True):
        kinds.append(ev.type)
        if ev.type == "response.output_text.delta":
            text += ev.delta
        last = ev
    expect(kinds[:2] == ["response.created", "response.in_progress"] and "response.output_text.delta" in kinds
           and kinds[-1] in ("response.completed", "response.incomplete") and text == last.response.output_text,
           f"stream events: {kinds}")
    with client.responses.stream(model=MODEL, input="Once", max_output_tokens=64) as st:
        streamed = "".join(ev.delta for ev in st if ev.type == "response.output_text.delta")
    expect(streamed != "", "responses.stream gave no text")
    unstored = client.responses.create(model=MODEL, input="x", max_output_tokens=2, store=False)
    try:
        client.responses.retrieve(unstored.id)
        raise Fail("store: false was stored")
    except openai.NotFoundError:
        pass
    expect(client.responses.delete(r.id) is None, "responses.delete")
    try:
        client.responses.retrieve(r.id)
        raise Fail("a deleted response was found")
    except openai.NotFoundError:
        pass
    try:
        client.responses.create(model="nope", input="x")
        raise Fail("an unknown model was accepted")
    except openai.NotFoundError:
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
        traceback.print_exc()
        print(f"apis: FAIL: {e}", file=sys.stderr)
        if srv:
            print(srv.log_tail(), file=sys.stderr)
            srv.kill()
        sys.exit(1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
