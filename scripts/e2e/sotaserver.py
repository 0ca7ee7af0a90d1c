"""A `bin/sota serve` process for the end-to-end scripts (admission.py,
jobs.py): a key database with one key per tenant, a free loopback port,
/health waited for, SIGTERM with exit 0 checked at the end."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request


class Fail(Exception):
    pass


def expect(cond, what):
    if not cond:
        raise Fail(what)


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class SotaServer:
    """Serves the fake backend for tenants {name: tier}, each with a key."""

    def __init__(self, sota: str, work: str, tenants: dict[str, str], serve_args: list[str],
                 tiers_yaml: str | None = None):
        self.sota, self.work = sota, work
        self.db = os.path.join(work, "sota.db")
        self.tiers = None
        if tiers_yaml is not None:
            self.tiers = os.path.join(work, "tiers.yaml")
            with open(self.tiers, "w") as f:
                f.write(tiers_yaml)
        self.keys = {t: self.create_key(t, tier) for t, tier in tenants.items()}
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(work, "server.log")
        cmd = [sota, "serve", "--backend", "fake", "--db", self.db, "--host", "127.0.0.1", "--port", str(self.port)]
        if self.tiers:
            cmd += ["--tiers", self.tiers]
        self.proc = subprocess.Popen(cmd + serve_args, stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            expect(self.proc.poll() is None, "the server exited before /health answered 200")
            try:
                if urllib.request.urlopen(self.base + "/health", timeout=2).status == 200:
                    return
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.1)
        raise Fail("/health did not answer 200 within 60 s")

    def create_key(self, tenant: str, tier: str) -> str:
        cmd = [self.sota, "keys", "create", "--db", self.db, "--tenant", tenant, "--tier", tier]
        if self.tiers:
            cmd += ["--tiers", self.tiers]
        key = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
        expect(key.startswith("sk-sota-"), f"keys create printed {key!r}")
        return key

    def stop(self):
        self.proc.terminate()
        try:
            rc = self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise Fail("the server did not exit within 20 s of SIGTERM")
        expect(rc == 0, f"the server exited {rc} after SIGTERM")

    def log_tail(self, lines=40) -> str:
        if not os.path.exists(self.log_path):
            return ""
        with open(self.log_path) as f:
            return "".join(f.readlines()[-lines:])

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()


def run_checks(name: str, start, checks) -> None:
    """Starts a server with start(work), runs checks(srv) on it, stops it
    (exit 0 required) and prints PASS; on a Fail prints the server's log and
    exits 1. The work folder and the server never outlive the call."""
    import shutil
    import sys
    import tempfile

    work = tempfile.mkdtemp(prefix=f"sota-e2e-{name}.")
    srv = None
    t0 = time.time()
    try:
        srv = start(work)
        checks(srv)
        srv.stop()
        srv = None
        print(f"e2e-{name}: PASS in {time.time() - t0:.1f}s", flush=True)
    except Fail as e:
        print(f"e2e-{name}: FAIL: {e}", file=sys.stderr)
        if srv is not None:
            print("----- server log (last 40 lines) -----", file=sys.stderr)
            print(srv.log_tail(), file=sys.stderr)
        sys.exit(1)
    finally:
        if srv is not None:
            srv.kill()
        shutil.rmtree(work, ignore_errors=True)
