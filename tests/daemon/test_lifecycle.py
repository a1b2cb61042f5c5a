#!/usr/bin/env python3
"""Queue limits, reasoning and shutdown: a full queue answers 429 while the
running request goes on; an R1-style template's <think> text comes back as
reasoning_content; SIGTERM lets a stream in flight finish, then exits 0.

usage: test_lifecycle.py VKINFERD TINY_MODEL_GEN R1_TEMPLATE"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import vkinfer_client as vc  # noqa: E402
from harness import check  # noqa: E402
import harness  # noqa: E402

def start(vkinferd, model, tmp, *extra):
    sock = os.path.join(tmp, "s.sock")
    log = open(os.path.join(tmp, "log"), "a")
    p = subprocess.Popen([vkinferd, "--no-dbus", "--socket", sock, "--model", model, *extra], stdout=log, stderr=log)
    for _ in range(600):
        if os.path.exists(sock):
            break
        time.sleep(0.05)
    time.sleep(0.1)
    return p, sock


def collect(sock, body, result):
    text, reasoning, finish = "", "", None
    for ev in vc.stream(sock, "/v1/chat/completions", body):
        if ev == "[DONE]":
            result["done"] = True
            break
        for ch in ev.get("choices", []):
            text += ch["delta"].get("content", "") or ""
            reasoning += ch["delta"].get("reasoning_content", "") or ""
            finish = ch.get("finish_reason") or finish
    result.update(text=text, reasoning=reasoning, finish=finish)


def main():
    vkinferd, gen, r1_template = sys.argv[1], sys.argv[2], sys.argv[3]
    tmp = tempfile.mkdtemp(prefix="vkinferd-life-")
    model = os.path.join(tmp, "r1.gguf")
    subprocess.run([gen, "--chat", r1_template, "deepseek2-v3", model], check=True)
    p, sock = start(vkinferd, model, tmp, "--queue-size", "1", "--max-sequences", "1")
    try:
        long_req = {"messages": [{"role": "user", "content": "think"}], "max_tokens": 200, "ignore_eos": True,
                    "seed": 3}
        # With thinking on, the R1 template opens <think> in the prompt: what
        # follows is reasoning until </think>.
        think = {"chat_template_kwargs": {"enable_thinking": True}}
        st, body = vc.request(sock, "POST", "/v1/chat/completions", body=dict(long_req, max_tokens=12, **think))
        msg = body["choices"][0]["message"] if st == 200 else {}
        check(st == 200 and msg.get("reasoning_content"), "no reasoning_content: %s" % body)
        r_stream = {}
        collect(sock, dict(long_req, max_tokens=12, **think), r_stream)
        check(r_stream.get("reasoning") == msg.get("reasoning_content", "") and
              r_stream.get("text") == msg.get("content", ""), "streamed reasoning %s vs %s" % (r_stream, msg))

        # One running, one queued, the third is refused with 429.
        results = [{}, {}]
        threads = [threading.Thread(target=collect, args=(sock, long_req, results[i])) for i in range(2)]
        threads[0].start()
        time.sleep(0.3)
        threads[1].start()
        for _ in range(100):  # until one runs and one waits
            s = vc.request(sock, "GET", "/status")[1]
            if s["running"] == 1 and s["queued"] == 1:
                break
            time.sleep(0.05)
        st, body = vc.request(sock, "POST", "/v1/chat/completions", body=long_req)
        check(st == 429 and "queue" in body["error"]["message"], "full queue: %s %s" % (st, body))
        for t in threads:
            t.join(300)
        check(all(r.get("finish") == "length" for r in results), "queued requests finished: %s" % results)

        # A client that hangs up while its request waits in the queue is
        # noticed: the request leaves the queue while the one ahead still runs.
        def raw_post(body):
            data = json.dumps(body).encode()
            c = socket.socket(socket.AF_UNIX)
            c.connect(sock)
            c.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(data) + data)
            return c

        def wait_status(pred):
            for _ in range(200):
                s = vc.request(sock, "GET", "/status")[1]
                if pred(s):
                    return s
                time.sleep(0.05)
            return None

        ahead = raw_post(dict(long_req, max_tokens=3000, stream=True))
        check(wait_status(lambda s: s["running"] == 1), "the first request never ran")
        waiting = raw_post(long_req)
        check(wait_status(lambda s: s["queued"] == 1), "the second request never queued")
        waiting.close()
        s = wait_status(lambda s: s["queued"] == 0)
        check(s is not None and s["running"] == 1, "a vanished client's request stayed queued: %s" % s)
        ahead.close()
        check(wait_status(lambda s: s["running"] == 0 and s["kv_cache"]["blocks_used"] == 0) is not None,
              "the stream whose client left still runs")

        # A client that half-closes after sending its request (legal HTTP:
        # it has nothing more to say) is not gone: it gets its whole answer,
        # streamed or not. Only a hang-up cancels.
        for stream in (False, True):
            data = json.dumps(dict(long_req, max_tokens=300, stream=stream)).encode()
            c = socket.socket(socket.AF_UNIX)
            c.settimeout(120)
            c.connect(sock)
            c.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(data) + data)
            c.shutdown(socket.SHUT_WR)
            out = b""
            try:
                while True:
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    out += chunk
            except OSError:
                pass
            c.close()
            if stream:
                ok = b'"finish_reason":"length"' in out and out.rstrip().endswith(b"0") and b"data: [DONE]" in out
            else:
                ok = b'"finish_reason":"length"' in out and b'"completion_tokens":300' in out
            check(out.startswith(b"HTTP/1.1 200") and ok, "half-closed client (stream %s): %r" % (stream, out[:120] + b"..." + out[-200:]))

        # SIGTERM while a stream runs: it finishes, then the daemon exits 0.
        r = {}
        t = threading.Thread(target=collect, args=(sock, long_req, r))
        t.start()
        time.sleep(0.5)
        p.send_signal(signal.SIGTERM)
        t.join(300)
        check(r.get("done") and r.get("finish") == "length", "stream across SIGTERM: %s" % r)
        rc = p.wait(timeout=120)
        check(rc == 0, "exit status after draining: %s" % rc)
        check(not os.path.exists(sock), "socket left behind")
    finally:
        if p.poll() is None:
            p.kill()
        if harness.failures:
            print(open(os.path.join(tmp, "log")).read()[-3000:], file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)
    drain_timeout(vkinferd, gen, r1_template)
    print("lifecycle: %s" % ("ok" if not harness.failures else "%d failed" % harness.failures), file=sys.stderr)
    return 1 if harness.failures else 0


def drain_timeout(vkinferd, gen, r1_template):
    """SIGTERM with requests that outlast drain-timeout: each still gets a
    terminal answer (a stream its error event and [DONE], a whole answer a
    503), queued ones too, and the daemon exits 0. They used to be cut off
    without a word."""
    tmp = tempfile.mkdtemp(prefix="vkinferd-drain-")
    model = os.path.join(tmp, "m.gguf")
    subprocess.run([gen, "--chat", r1_template, "deepseek2-v3", model], check=True)
    conf = os.path.join(tmp, "vkinferd.conf")
    open(conf, "w").write("[scheduler]\ndrain-timeout = 1\n")
    p, sock = start(vkinferd, model, tmp, "--config", conf, "--max-sequences", "1")
    try:
        req = {"messages": [{"role": "user", "content": "go"}], "max_tokens": 3000, "ignore_eos": True, "seed": 1}
        results = {}

        def streamed(key):
            events = []
            try:
                for ev in vc.stream(sock, "/v1/chat/completions", req):
                    events.append(ev)
            except Exception as e:  # noqa: BLE001 (a cut connection)
                events.append(repr(e))
            results[key] = events

        def whole(key):
            try:
                results[key] = vc.request(sock, "POST", "/v1/chat/completions", body=req, timeout=60)
            except Exception as e:  # noqa: BLE001
                results[key] = repr(e)
        threads = [threading.Thread(target=streamed, args=("stream",)),
                   threading.Thread(target=whole, args=("whole",)),
                   threading.Thread(target=streamed, args=("queued stream",))]
        for t in threads:
            t.start()
            time.sleep(0.3)
        p.send_signal(signal.SIGTERM)
        for t in threads:
            t.join(60)
        for key in ("stream", "queued stream"):
            ev = results.get(key, [])
            err = ev[-2].get("error", {}) if len(ev) >= 2 and isinstance(ev[-2], dict) else {}
            check(ev[-1:] == ["[DONE]"] and "shutting down" in err.get("message", ""),
                  "%s cut by the drain timeout: %s" % (key, ev[-3:]))
        st, body = results.get("whole") if isinstance(results.get("whole"), tuple) else (None, results.get("whole"))
        check(st == 503 and "shutting down" in body.get("error", {}).get("message", ""),
              "whole answer cut by the drain timeout: %s %s" % (st, body))
        rc = p.wait(timeout=60)
        check(rc == 0, "exit status after the drain timeout: %s" % rc)
        log = open(os.path.join(tmp, "log")).read()
        check("cancelling 3 request(s)" in log, "the log counts the requests cancelled: %s" % log[-1500:])
    finally:
        if p.poll() is None:
            p.kill()
        if harness.failures:
            print(open(os.path.join(tmp, "log")).read()[-3000:], file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
