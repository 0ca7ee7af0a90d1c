#!/usr/bin/env python3
"""End-to-end checks of multi-tenant admission on `bin/sota serve` (run by
`make e2e`).

Serves the fake backend (50 ms a step) with a key database and a tiers file
in which solo has 3 streams, a queue of 1 and a 2 s queue wait, then checks:

  * three streams of tenant acme run; a fourth waits and starts when one
    ends; with the queue full a fifth gets 429 with the product's exact body
    and Retry-After; a request waiting past 2 s gets 408 queue_timeout;
  * tenant beta is served at once throughout;
  * the official Python and Node SDKs raise their rate-limit errors on the
    429, with retry_after readable from the body and the header;
  * clients that disconnect, and a client that stops reading (the stall
    timeout), free their slots at once;
  * afterwards no slot is held (GET /v1/usage shows 0 running, 0 queued).

    python scripts/e2e/admission.py [--sota bin/sota] [--node node]

Exits 1 on the first failed check, printing the server's log.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import threading
import time
import urllib.request

import openai

from sotaserver import Fail, SotaServer, expect, run_checks

TIERS = """\
tiers:
  solo: {streams: 3, queue: 1, queue_wait: 2s, retry_after: 5, models: ["*"], priorities: [slow, medium], weight: 1}
  team: {streams: 10, queue: 10, queue_wait: 60s, retry_after: 5, models: ["*"], priorities: [slow, medium, fast], weight: 2}
"""
STEP = 0.05  # --fake-step-delay
MODEL = "stories260k"


def log(msg):
    print(f"e2e-admission: {msg}", flush=True)


class Server(SotaServer):
    def __init__(self, sota: str, work: str):
        super().__init__(sota, work, {"acme": "solo", "beta": "team"},
                         ["--fake-step-delay", f"{int(STEP * 1000)}ms", "--stream-stall-timeout", "1s"], tiers_yaml=TIERS)

    def usage(self, tenant):
        req = urllib.request.Request(self.base + "/v1/usage", headers={"Authorization": "Bearer " + self.keys[tenant]})
        return json.load(urllib.request.urlopen(req, timeout=10))

    def wait_streams(self, tenant, running, queued, within=2.0):
        deadline = time.time() + within
        while True:
            s = self.usage(tenant)["streams"]
            if s["running"] == running and s["queued"] == queued:
                return
            if time.time() > deadline:
                raise Fail(f"{tenant}: streams {s}, want running {running} queued {queued} within {within}s")
            time.sleep(0.02)


class Call:
    """One completion in a thread: status, headers, body, start and end times."""

    def __init__(self, srv: Server, tenant: str, max_tokens: int, stream=True, n=1, read=True):
        self.srv, self.tenant = srv, tenant
        self.body = json.dumps({"model": MODEL, "prompt": "Once upon a time", "max_tokens": max_tokens,
                                "ignore_eos": True, "stream": stream, "n": n})
        self.read = read
        self.status = None
        self.headers = {}
        self.data = b""
        self.first_byte = None
        self.conn = None
        self.started = time.time()
        self.ended = None
        self.error = None
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        try:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=60)
            if not self.read:
                # A tiny receive buffer (set before connecting, so the window
                # is small from the start): the server's writes block soon.
                sock = socket.socket()
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                sock.settimeout(60)
                sock.connect(("127.0.0.1", self.srv.port))
                self.conn.sock = sock
            self.conn.request("POST", "/v1/completions", self.body, {
                "Content-Type": "application/json", "Authorization": "Bearer " + self.srv.keys[self.tenant]})
            resp = self.conn.getresponse()
            self.status, self.headers = resp.status, {k.lower(): v for k, v in resp.getheaders()}
            self.first_byte = time.time()
            if not self.read:
                return  # never read the body
            self.data = resp.read()
        except Exception as e:  # a closed connection ends the call
            self.error = e
        finally:
            self.ended = time.time()

    def close(self):
        sock = self.conn.sock if self.conn is not None else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            except OSError:
                pass  # already closed by the reading thread

    def wait(self, timeout=30):
        self.thread.join(timeout)
        expect(not self.thread.is_alive(), f"{self.tenant}: a request did not finish within {timeout}s")
        return self


def check_caps_queue_and_rejections(srv: Server):
    short = Call(srv, "acme", 20)  # 1 s
    long1, long2 = Call(srv, "acme", 100), Call(srv, "acme", 100)  # 5 s
    srv.wait_streams("acme", 3, 0)
    queued = Call(srv, "acme", 100)
    srv.wait_streams("acme", 3, 1)
    # Queue full: 429 at once, the exact body, Retry-After.
    full = Call(srv, "acme", 5, stream=False).wait()
    expect(full.status == 429, f"fifth request: status {full.status}, want 429")
    body = json.loads(full.data)
    want = {"error": {"message": body["error"]["message"], "type": "stream_capacity_exceeded", "param": None,
                      "code": 429, "retry_after": int(full.headers.get("retry-after", "0"))}}
    expect(body == want and body["error"]["retry_after"] >= 1, f"429 body {body}, want the shape {want}")
    expect(full.ended - full.started < 0.5, f"the 429 took {full.ended - full.started:.3f}s, want at once")
    log(f"429 at once with the product's body, Retry-After {full.headers['retry-after']}")
    # Another tenant is unaffected.
    b = Call(srv, "beta", 5, stream=False).wait()
    expect(b.status == 200 and b.ended - b.started < 1.0, f"beta during acme's overload: {b.status} in {b.ended - b.started:.2f}s")
    # The queued request starts when the short one ends.
    short.wait()
    expect(short.status == 200, f"short stream: {short.status}")
    srv.wait_streams("acme", 3, 0)
    deadline = time.time() + 2
    while queued.first_byte is None and time.time() < deadline:
        time.sleep(0.01)
    expect(queued.first_byte is not None, "the queued request sent nothing 2 s after it got its slot")
    log(f"the queued request started when a stream ended ({queued.first_byte - queued.started:.2f}s after it came)")
    # With three long streams running, a waiter gets 408 after 2 s.
    timeout = Call(srv, "acme", 5, stream=False).wait()
    waited = timeout.ended - timeout.started
    expect(timeout.status == 408 and json.loads(timeout.data)["error"]["type"] == "queue_timeout" and 1.9 < waited < 3.0,
           f"waiter: {timeout.status} after {waited:.2f}s, {timeout.data[:200]!r}; want 408 queue_timeout after 2s")
    log(f"408 queue_timeout after {waited:.2f}s")
    for c in (long1, long2, queued):
        c.wait()
        expect(c.status == 200 and c.data.rstrip().endswith(b"data: [DONE]"), f"long stream: {c.status} {c.data[-100:]!r}")
    srv.wait_streams("acme", 0, 0)


def fill(srv: Server):
    """Three running streams and one queued: acme is full."""
    calls = [Call(srv, "acme", 200) for _ in range(3)]
    srv.wait_streams("acme", 3, 0)
    calls.append(Call(srv, "acme", 200))
    srv.wait_streams("acme", 3, 1)
    return calls


def check_sdks(srv: Server, node: str):
    calls = fill(srv)
    client = openai.OpenAI(base_url=srv.base + "/v1", api_key=srv.keys["acme"], max_retries=0)
    try:
        client.completions.create(model=MODEL, prompt="x", max_tokens=1)
        raise Fail("Python SDK: no error with the tenant full")
    except openai.RateLimitError as e:
        body = e.body if isinstance(e.body, dict) else {}
        ra = body.get("retry_after", body.get("error", {}).get("retry_after"))
        expect(e.status_code == 429 and ra is not None and int(e.response.headers["retry-after"]) == ra,
               f"Python SDK RateLimitError: status {e.status_code}, body {e.body}, headers {dict(e.response.headers)}")
        log(f"Python SDK {openai.__version__}: RateLimitError, retry_after {ra}")
    script = """
import OpenAI from 'openai';
const [base, key] = process.argv.slice(1);
const client = new OpenAI({ baseURL: base, apiKey: key, maxRetries: 0 });
try {
  await client.completions.create({ model: 'stories260k', prompt: 'x', max_tokens: 1 });
  console.log(JSON.stringify({ error: 'no error' }));
} catch (e) {
  console.log(JSON.stringify({ rateLimit: e instanceof OpenAI.RateLimitError, status: e.status,
    retryAfter: e.error?.retry_after, header: e.headers?.get ? e.headers.get('retry-after') : e.headers?.['retry-after'] }));
}
"""
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node")
    out = subprocess.run([node, "--input-type=module", "-e", script, srv.base + "/v1", srv.keys["acme"]],
                         cwd=here, capture_output=True, text=True, timeout=60)
    res = json.loads(out.stdout.strip().splitlines()[-1]) if out.stdout.strip() else {"stderr": out.stderr}
    expect(res.get("rateLimit") is True and res.get("status") == 429 and res.get("retryAfter") is not None
           and str(res.get("retryAfter")) == str(res.get("header")), f"Node SDK: {res}")
    log(f"Node SDK: RateLimitError, retry_after {res['retryAfter']}")
    return calls


def check_disconnects_free_slots(srv: Server, calls):
    t = time.time()
    for c in calls:
        c.close()
    srv.wait_streams("acme", 0, 0, within=1.0)
    log(f"4 clients went away: their slots were free {time.time() - t:.3f}s later")
    # The tenant runs three again at once.
    again = [Call(srv, "acme", 3, stream=False) for _ in range(3)]
    for c in again:
        c.wait()
        expect(c.status == 200 and c.ended - c.started < 1.5, f"after the disconnects: {c.status} in {c.ended - c.started:.2f}s")


def check_stalled_client(srv: Server):
    # n = 128 sequences of 400 tokens (20 s): megabytes of events the client never reads.
    stalled = Call(srv, "acme", 400, n=128, read=False)
    srv.wait_streams("acme", 1, 0)
    t = time.time()
    srv.wait_streams("acme", 0, 0, within=15.0)  # socket buffers (megabytes on loopback) fill first
    log(f"a client that stopped reading lost its slot {time.time() - t:.2f}s after it started (stall timeout 1s)")
    stalled.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sota", default=os.environ.get("SOTA_BIN", "bin/sota"))
    ap.add_argument("--node", default=os.environ.get("NODE", "node"))
    args = ap.parse_args()

    def checks(srv):
        log(f"serving {srv.base} with tenants acme (solo: 3 streams, queue 1, 2s) and beta (team)")
        check_caps_queue_and_rejections(srv)
        calls = check_sdks(srv, args.node)
        check_disconnects_free_slots(srv, calls)
        check_stalled_client(srv)
        srv.wait_streams("acme", 0, 0)
        srv.wait_streams("beta", 0, 0)

    run_checks("admission", lambda work: Server(args.sota, work), checks)


if __name__ == "__main__":
    main()
