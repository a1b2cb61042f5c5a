#!/usr/bin/env python3
"""Starts a real vkinferd on a temporary socket and checks its HTTP API with
the standard-library client and with curl: listing, health, and every kind of
bad request getting its OpenAI-shaped error while the daemon keeps serving.

usage: test_daemon_api.py VKINFERD MODEL.gguf"""
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
import vkinfer_client as vc  # noqa: E402

failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("check failed:", what, file=sys.stderr)


def logpath(sock):
    return os.path.join(os.path.dirname(os.path.dirname(sock)), "vkinferd.log")


def start(vkinferd, model, sock, *extra):
    log = open(logpath(sock), "w")
    p = subprocess.Popen([vkinferd, "--socket", sock, "--model", model, *extra], stdout=log, stderr=log)
    for _ in range(600):
        if os.path.exists(sock):
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(sock)
                s.close()
                return p
            except OSError:
                pass
        if p.poll() is not None:
            break
        time.sleep(0.05)
    print(open(logpath(sock)).read(), file=sys.stderr)
    raise SystemExit("vkinferd did not start")


def main():
    vkinferd, model = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="vkinferd-test-")
    sock = os.path.join(tmp, "sub", "vkinfer.sock")
    p = start(vkinferd, model, sock)
    name = os.path.basename(model)[:-5]
    try:
        mode = stat.S_IMODE(os.stat(sock).st_mode)
        check(mode == 0o660, "socket mode %o" % mode)

        st, body = vc.request(sock, "GET", "/health")
        check(st == 200 and body.get("status") == "ok", "health: %s %s" % (st, body))
        st, body = vc.request(sock, "GET", "/v1/models")
        check(st == 200 and body["object"] == "list" and body["data"][0]["id"] == name, "models: %s" % body)

        chat = {"messages": [{"role": "user", "content": "hi"}]}
        cases = [
            ("bad JSON", dict(raw=b"{bad"), 400, None),
            ("not an object", dict(raw=b"[1,2]"), 400, None),
            ("no messages", dict(body={}), 400, "messages"),
            ("empty messages", dict(body={"messages": []}), 400, "messages"),
            ("bad role", dict(body={"messages": [{"role": "wizard", "content": "x"}]}), 400, "messages"),
            ("temperature type", dict(body=dict(chat, temperature="hot")), 400, "temperature"),
            ("temperature range", dict(body=dict(chat, temperature=7)), 400, "temperature"),
            ("max_tokens type", dict(body=dict(chat, max_tokens=1.5)), 400, "max_tokens"),
            ("max_tokens zero", dict(body=dict(chat, max_tokens=0)), 400, "max_tokens"),
            ("top_p zero", dict(body=dict(chat, top_p=0)), 400, "top_p"),
            ("n=2", dict(body=dict(chat, n=2)), 400, "n"),
            ("stop type", dict(body=dict(chat, stop=[1])), 400, "stop"),
            ("seed type", dict(body=dict(chat, seed="x")), 400, "seed"),
            ("stream type", dict(body=dict(chat, stream="yes")), 400, "stream"),
            ("unknown model", dict(body=dict(chat, model="no-such-model")), 404, "model"),
            ("invalid UTF-8", dict(raw=b'{"messages":[{"role":"user","content":"\xff\xfe"}]}'), 400, None),
            ("huge body", dict(raw=b"x" * (2 << 20)), 413, None),
        ]
        for what, kw, want, param in cases:
            st, body = vc.request(sock, "POST", "/v1/chat/completions", **kw)
            ok = st == want and isinstance(body, dict) and "message" in body.get("error", {})
            if param is not None and ok:
                ok = body["error"].get("param") == param
            check(ok, "%s: got %s %s" % (what, st, body))

        st, body = vc.request(sock, "POST", "/v1/completions", body={"prompt": 5})
        check(st == 400 and body["error"]["param"] == "prompt", "completion prompt type: %s" % body)
        st, body = vc.request(sock, "GET", "/v1/nothing")
        check(st == 404, "unknown path: %s" % st)
        st, body = vc.request(sock, "GET", "/v1/chat/completions")
        check(st == 405, "wrong method: %s" % st)

        # Malformed HTTP gets a 400 and a closed connection.
        out = vc.raw_exchange(sock, b"NOT HTTP AT ALL\r\n\r\n")
        check(out.startswith(b"HTTP/1.1 400"), "malformed HTTP: %r" % out[:40])

        # A client that sends half a request and stalls holds nobody up.
        stall = socket.socket(socket.AF_UNIX)
        stall.connect(sock)
        stall.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"mess")
        t0 = time.monotonic()
        st, body = vc.request(sock, "GET", "/health", timeout=5)
        check(st == 200 and time.monotonic() - t0 < 2, "health while a client stalls")
        stall.close()

        # Keep-alive: two requests on one connection.
        c = vc.UnixHTTPConnection(sock)
        for _ in range(2):
            c.request("GET", "/health")
            r = c.getresponse()
            r.read()
            check(r.status == 200, "keep-alive request")
        c.close()

        # curl, a real client, over the Unix socket.
        if shutil.which("curl"):
            out = subprocess.run(["curl", "-s", "--unix-socket", sock, "http://localhost/v1/models"],
                                 capture_output=True, text=True, timeout=30).stdout
            check('"object":"list"' in out, "curl models: %r" % out)
            out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", sock,
                                  "-d", "{", "http://localhost/v1/chat/completions"],
                                 capture_output=True, text=True, timeout=30).stdout
            check(out == "400", "curl bad JSON: %r" % out)

        check(p.poll() is None, "daemon still running")
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = -1
        check(rc == 0, "clean exit on SIGTERM: %s" % rc)
        check(not os.path.exists(sock), "socket removed at exit")
        if failures:
            print(open(logpath(sock)).read(), file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)
    print("daemon-api: %s" % ("ok" if not failures else "%d failed" % failures), file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
