#!/usr/bin/env python3
"""End-to-end checks of async jobs and the OpenAI Batch API on `bin/sota serve`
(run by `make e2e`).

Serves the fake backend (20 ms a step) with a key database (tenants acme,
solo tier, and beta, team), then checks:

  * POST /v1/{model}/generate with "async": true answers 202 with the job's
    urls; the job finishes with the /v1/completions object; without async the
    request waits for it; validation errors are 422 {"detail": [...]};
    another tenant's job is 404; GET /v1/jobs pages with a cursor;
  * GET /v1/jobs/{id}/stream: a client that reads part, disconnects and
    comes back with Last-Event-ID gets exactly the rest;
  * DELETE cancels a running job and frees its slot;
  * a webhook to a loopback receiver arrives signed (X-Sota-Signature, HMAC
    of "<t>.<body>" with the secret `sota tenants webhook-secret` prints);
  * the official Python SDK's Batch API: files.create, batches.create,
    batches.retrieve until completed, files.content of the output (one line
    per custom_id with the chat completion) and error file (the invalid
    line), batches.list, and batches.cancel of a long batch.

    python scripts/e2e/jobs.py [--sota bin/sota]

Exits 1 on the first failed check, printing the server's log.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.server
import io
import json
import subprocess
import threading
import time
import urllib.error
import urllib.request

import openai

from sotaserver import Fail, SotaServer, expect, run_checks

MODEL = "stories260k"


def log(msg):
    print(f"e2e-jobs: {msg}", flush=True)


class Server(SotaServer):
    def __init__(self, sota: str, work: str):
        # The webhook receiver is on loopback, which webhooks may not reach by default.
        super().__init__(sota, work, {"acme": "solo", "beta": "team"}, ["--fake-step-delay", "20ms", "--webhook-allow-private"])

    def call(self, method, path, tenant="acme", body=None, headers=None):
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
        h = {"Authorization": "Bearer " + self.keys[tenant], "Content-Type": "application/json"}
        h.update(headers or {})
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, json.loads(resp.read() or b"null"), resp.headers
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null"), e.headers

    def wait_job(self, job_id, tenant="acme", within=30, until=lambda j: j["status"] in
                 ("FINISHED", "FAILED", "TIMEOUT", "CANCELLED")):
        deadline = time.time() + within
        while True:
            code, job, _ = self.call("GET", f"/v1/jobs/{job_id}", tenant)
            expect(code == 200, f"GET job {job_id}: {code} {job}")
            if until(job):
                return job
            expect(time.time() < deadline, f"job {job_id} still {job['status']} after {within}s")
            time.sleep(0.02)



def check_jobs_api(srv: Server):
    code, job, hdr = srv.call("POST", f"/v1/{MODEL}/generate", body={"prompt": "Once upon", "max_tokens": 20, "async": True})
    expect(code == 202, f"async submit: {code} {job}")
    jid = job["job_id"]
    expect(jid.startswith("job_") and len(jid) == 36, f"job id {jid}")
    for k in ("refresh_job_url", "cancel_job_url", "status"):
        expect(k in job, f"202 body lacks {k}: {job}")
    expect(hdr["Location"] == f"/v1/jobs/{jid}", f"Location {hdr['Location']}")
    done = srv.wait_job(jid)
    expect(done["status"] == "FINISHED" and done["result"]["object"] == "text_completion", f"job {done}")
    expect(done["result"]["choices"][0]["text"] == done["output"][0], "output is the result's text")
    expect(done["result"]["usage"]["completion_tokens"] == 20, f"usage {done['result']['usage']}")

    code, sync, _ = srv.call("POST", f"/v1/{MODEL}/generate", body={"messages": [{"role": "user", "content": "hi"}],
                                                                 "max_tokens": 5})
    expect(code == 200 and sync["status"] == "FINISHED" and sync["result"]["object"] == "chat.completion",
           f"sync chat job: {code} {sync}")

    code, bad, _ = srv.call("POST", f"/v1/{MODEL}/generate", body={"prompt": "x", "max_tokens": 0})
    expect(code == 422 and bad["detail"][0]["loc"] == ["body", "max_tokens"], f"validation: {code} {bad}")
    code, other, _ = srv.call("GET", f"/v1/jobs/{jid}", tenant="beta")
    expect(code == 404, f"another tenant's job: {code} {other}")

    code, page, _ = srv.call("GET", "/v1/jobs?limit=1")
    expect(code == 200 and len(page["data"]) == 1 and page["has_more"] and page["next_cursor"], f"page 1: {page}")
    code, page2, _ = srv.call("GET", "/v1/jobs?limit=1&after=" + page["next_cursor"])
    expect(code == 200 and page2["data"][0]["job_id"] != page["data"][0]["job_id"], f"page 2: {page2}")
    log("jobs: 202, poll, sync, 422, 404 across tenants, cursor pages")


def read_events(resp, stop_after=None):
    events, ev = [], {}
    for raw in resp:
        line = raw.decode().rstrip("\n")
        if line == "":
            if ev:
                events.append(ev)
                if stop_after and sum(e.get("event") == "delta" for e in events) >= stop_after:
                    return events
            ev = {}
        elif line.startswith("event: "):
            ev["event"] = line[7:]
        elif line.startswith("id: "):
            ev["id"] = line[4:]
        elif line.startswith("data: "):
            ev["data"] = line[6:]
    return events


def check_stream_resume(srv: Server):
    code, job, _ = srv.call("POST", f"/v1/{MODEL}/generate", body={"prompt": "Stream", "max_tokens": 80, "async": True})
    jid = job["job_id"]

    def open_stream(last=None):
        h = {"Authorization": "Bearer " + srv.keys["acme"]}
        if last:
            h["Last-Event-ID"] = last
        return urllib.request.urlopen(urllib.request.Request(srv.base + f"/v1/jobs/{jid}/stream", headers=h), timeout=60)

    text, last = "", None
    with open_stream() as resp:
        for e in read_events(resp, stop_after=8):
            if e.get("event") == "delta":
                text += json.loads(e["data"])["text"]
                last = e["id"]
    expect(last, "no delta before the disconnect")
    with open_stream(last) as resp:
        events = read_events(resp)
    for e in events:
        if e.get("event") == "delta":
            text += json.loads(e["data"])["text"]
    expect(events[-1]["event"] == "done" and events[-2]["event"] == "result", f"stream end {events[-2:]}")
    final = json.loads(events[-2]["data"])
    expect(text == final["output"][0], f"resumed stream {text!r} != output {final['output'][0]!r}")
    log("stream: resumed from Last-Event-ID without gaps or repeats")


def check_cancel(srv: Server):
    code, job, _ = srv.call("POST", f"/v1/{MODEL}/generate", body={"prompt": "Long", "max_tokens": 400, "async": True})
    jid = job["job_id"]
    srv.wait_job(jid, until=lambda j: j["status"] == "STREAMING")
    code, out, _ = srv.call("DELETE", f"/v1/jobs/{jid}")
    expect(code == 200 and out["status"] == "CANCELLED", f"cancel: {code} {out}")
    code, too_long, _ = srv.call("POST", f"/v1/{MODEL}/generate", body={"prompt": "x", "max_tokens": 3000})
    expect(code == 422 and "context" in too_long["detail"][0]["msg"], f"over the context: {code} {too_long}")
    log("cancel: a streaming job is CANCELLED; over the context is a 422 at submission")


class Receiver(http.server.BaseHTTPRequestHandler):
    got: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.got.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def check_webhook(srv: Server):
    hook = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{hook.server_address[1]}/hook"
        code, job, _ = srv.call("POST", f"/v1/{MODEL}/generate",
                                body={"prompt": "Hook", "max_tokens": 3, "async": True, "webhook_url": url})
        expect(code == 202, f"submit with webhook: {code} {job}")
        deadline = time.time() + 30
        while not Receiver.got:
            expect(time.time() < deadline, "no webhook within 30 s")
            time.sleep(0.05)
        headers, body = Receiver.got[0]
        secret = subprocess.run([srv.sota, "tenants", "webhook-secret", "acme", "--db", srv.db], capture_output=True,
                                text=True, check=True).stdout.strip()
        parts = dict(p.split("=", 1) for p in headers["X-Sota-Signature"].split(","))
        want = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
        expect(hmac.compare_digest(parts["v1"], want), "webhook signature does not verify")
        expect(abs(time.time() - int(parts["t"])) < 60, "webhook timestamp")
        payload = json.loads(body)
        expect(payload["job_id"] == job["job_id"] and payload["status"] == "FINISHED", f"payload {payload}")
        expect(headers["X-Sota-Event"] == "job.finished", f"event {headers['X-Sota-Event']}")
        log("webhook: delivered, HMAC-SHA256 signature verified with the tenant's secret")
    finally:
        hook.shutdown()


def check_batch_sdk(srv: Server):
    client = openai.OpenAI(base_url=srv.base + "/v1", api_key=srv.keys["beta"], max_retries=0)
    lines = [{"custom_id": f"req-{i}", "method": "POST", "url": "/v1/chat/completions",
              "body": {"model": MODEL, "messages": [{"role": "user", "content": f"Tell story {i}"}], "max_tokens": 8}}
             for i in range(20)]
    lines.append({"custom_id": "bad", "method": "POST", "url": "/v1/chat/completions",
                  "body": {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "max_tokens": -1}})
    data = "".join(json.dumps(l) + "\n" for l in lines).encode()
    f = client.files.create(file=("batch.jsonl", io.BytesIO(data)), purpose="batch")
    expect(f.id.startswith("file-") and f.bytes == len(data) and f.purpose == "batch", f"file {f}")
    expect(client.files.retrieve(f.id).filename == "batch.jsonl", "files.retrieve")
    b = client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h",
                              metadata={"run": "e2e"})
    expect(b.status == "in_progress" and b.request_counts.total == 21, f"batch {b}")
    deadline = time.time() + 60
    while b.status not in ("completed", "failed", "cancelled", "expired"):
        expect(time.time() < deadline, f"batch still {b.status}: {b.request_counts}")
        time.sleep(0.1)
        b = client.batches.retrieve(b.id)
    expect(b.status == "completed", f"batch ended {b.status}: {b.errors}")
    expect(b.request_counts.completed == 20 and b.request_counts.failed == 1, f"counts {b.request_counts}")
    expect(b.metadata == {"run": "e2e"}, f"metadata {b.metadata}")
    out = [json.loads(l) for l in client.files.content(b.output_file_id).text.splitlines()]
    expect([o["custom_id"] for o in out] == [f"req-{i}" for i in range(20)], "output lines in input order")
    for o in out:
        resp = o["response"]
        expect(resp["status_code"] == 200 and resp["body"]["object"] == "chat.completion" and o["error"] is None,
               f"output line {o}")
        expect(resp["body"]["usage"]["completion_tokens"] == 8, f"usage {resp['body']['usage']}")
    errs = [json.loads(l) for l in client.files.content(b.error_file_id).text.splitlines()]
    expect(len(errs) == 1 and errs[0]["custom_id"] == "bad" and errs[0]["response"]["status_code"] == 400,
           f"error file {errs}")
    expect(any(x.id == b.id for x in client.batches.list(limit=10)), "batches.list")

    # A long batch, cancelled.
    long = [{"custom_id": f"long-{i}", "method": "POST", "url": "/v1/completions",
             "body": {"model": MODEL, "prompt": "x", "max_tokens": 400}} for i in range(5)]
    f2 = client.files.create(file=("long.jsonl", io.BytesIO("".join(json.dumps(l) + "\n" for l in long).encode())),
                             purpose="batch")
    b2 = client.batches.create(input_file_id=f2.id, endpoint="/v1/completions", completion_window="24h")
    time.sleep(0.3)
    b2 = client.batches.cancel(b2.id)
    expect(b2.status in ("cancelling", "cancelled"), f"cancel: {b2.status}")
    deadline = time.time() + 30
    while b2.status != "cancelled":
        expect(time.time() < deadline, f"batch still {b2.status}")
        time.sleep(0.1)
        b2 = client.batches.retrieve(b2.id)
    expect(b2.request_counts.failed == 5, f"cancelled counts {b2.request_counts}")
    # A bad input file fails the batch with line errors.
    f3 = client.files.create(file=("bad.jsonl", io.BytesIO(b'{"custom_id": "a", "method": "GET", "url": "/v1/completions", "body": {}}\n')),
                             purpose="batch")
    b3 = client.batches.create(input_file_id=f3.id, endpoint="/v1/completions", completion_window="24h")
    expect(b3.status == "failed" and b3.errors.data[0].line == 1, f"bad file batch {b3}")
    try:
        client.batches.retrieve(b.id, extra_headers={"Authorization": "Bearer " + srv.keys["acme"]})
        raise Fail("another tenant's batch was served")
    except openai.NotFoundError:
        pass
    log("batch API (official SDK): files, batches create/retrieve/list/cancel, output and error files")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sota", default="bin/sota")
    args = ap.parse_args()

    def checks(srv):
        log(f"serving {srv.base} with tenants acme (solo) and beta (team)")
        check_jobs_api(srv)
        check_stream_resume(srv)
        check_cancel(srv)
        check_webhook(srv)
        check_batch_sdk(srv)

    run_checks("jobs", lambda work: Server(args.sota, work), checks)


if __name__ == "__main__":
    main()
