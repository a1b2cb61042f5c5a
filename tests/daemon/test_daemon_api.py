#!/usr/bin/env python3
"""Starts a real vkinferd on a temporary socket and checks its HTTP API with
the standard-library client and with curl: listing, health, and every kind of
bad request getting its OpenAI-shaped error while the daemon keeps serving.

usage: test_daemon_api.py VKINFERD MODEL.gguf VKINFER"""
import os
import json
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import vkinfer_client as vc  # noqa: E402
from harness import check  # noqa: E402
import harness  # noqa: E402

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


def status(sock):
    st, body = vc.request(sock, "GET", "/status")
    return body


def collect(sock, url, body):
    """A streamed request's text, finish reason, usage and event count."""
    text, reasoning, finish, usage, n = "", "", None, None, 0
    for ev in vc.stream(sock, url, body):
        n += 1
        if ev == "[DONE]":
            break
        if ev.get("usage"):
            usage = ev["usage"]
        for ch in ev.get("choices", []):
            d = ch.get("delta", ch)
            text += d.get("content", "") if "delta" in ch else d.get("text", "")
            reasoning += d.get("reasoning_content", "") if "delta" in ch else ""
            finish = ch.get("finish_reason") or finish
    return text, finish, usage, n


def raw_answer(sock, chunks, half_close=False, pause=0.2):
    """Sends chunks (a pause between them), then reads until the server
    closes: (status, parsed JSON body or the raw bytes)."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(sock)
    for i, c in enumerate(chunks):
        if i:
            time.sleep(pause)
        s.sendall(c)
    if half_close:
        s.shutdown(socket.SHUT_WR)
    out = b""
    try:
        while True:
            c = s.recv(65536)
            if not c:
                break
            out += c
    except OSError:
        pass
    s.close()
    head, _, body = out.partition(b"\r\n\r\n")
    try:
        status = int(head.split(b" ")[1])
    except (IndexError, ValueError):
        return None, out
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body


def malformed_http(sock):
    """A request line that is not METHOD TARGET HTTP/x.y gets a 400 with the
    OpenAI error body (libmicrohttpd alone closed the connection without a
    word on a line without spaces, and answered others in HTML); a good line
    that arrives in pieces, or after an empty line, is served."""
    for what, chunks, half in (("no spaces", [b"GARBAGE\r\n\r\n"], False),
                               ("four words", [b"NOT HTTP AT ALL\r\n\r\n"], False),
                               ("no version", [b"GET /health\r\n\r\n"], False),
                               ("binary", [b"\x16\x03\x01\x02\x00\x01\r\n\r\n"], False),
                               ("no line end, then a half-close", [b"GARBAGE"], True)):
        st, body = raw_answer(sock, chunks, half)
        err = body.get("error", {}) if isinstance(body, dict) else {}
        check(st == 400 and err.get("type") == "invalid_request_error" and "request line" in err.get("message", ""),
              "malformed request line (%s): %s %r" % (what, st, body))
    get = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    st, body = raw_answer(sock, [get[:2], get[2:9], get[9:]])
    check(st == 200 and isinstance(body, dict) and body.get("status") == "ok", "request line in pieces: %s %r" % (st, body))
    st, body = raw_answer(sock, [b"\r\n" + get])
    check(st == 200, "empty line before the request line: %s %r" % (st, body))


def context_errors(sock):
    """A request that does not fit the context names the parameter at
    fault: max_tokens (or max_completion_tokens) only when it was given."""
    for what, url, body, param in (
            ("long prompt", "/v1/completions", {"prompt": "x" * 5000}, "prompt"),
            ("long messages", "/v1/chat/completions", {"messages": [{"role": "user", "content": "x" * 5000}]},
             "messages"),
            ("long prompt and max_tokens", "/v1/completions", {"prompt": "x" * 5000, "max_tokens": 4}, "prompt"),
            ("max_tokens", "/v1/completions", {"prompt": "the", "max_tokens": 1 << 24}, "max_tokens"),
            ("max_completion_tokens", "/v1/chat/completions",
             {"messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 1 << 24},
             "max_completion_tokens")):
        st, got = vc.request(sock, "POST", url, body=body)
        err = got.get("error", {}) if isinstance(got, dict) else {}
        check(st == 400 and "context" in err.get("message", "") and err.get("param") == param,
              "context error (%s): %s %s, wanted param %s" % (what, st, got, param))


def gen_tests(sock, name, vkinfer):
    chat = {"messages": [{"role": "user", "content": "In the beginning"}], "max_tokens": 12, "seed": 7}
    st, body = vc.request(sock, "POST", "/v1/chat/completions", body=chat)
    check(st == 200 and body["object"] == "chat.completion" and body["model"] == name, "chat: %s %s" % (st, body))
    msg = body["choices"][0]["message"]
    check(isinstance(msg["content"], str) and body["choices"][0]["finish_reason"] in ("stop", "length"),
          "chat message: %s" % body)
    u = body["usage"]
    check(u["prompt_tokens"] > 0 and 0 < u["completion_tokens"] <= 12 and
          u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"], "usage: %s" % u)
    whole = msg["content"]

    # Streaming gives the same text for the same seed, with usage and [DONE].
    text, finish, usage, n = collect(sock, "/v1/chat/completions",
                                     dict(chat, stream_options={"include_usage": True}))
    check(text == whole and finish == body["choices"][0]["finish_reason"], "stream %r vs whole %r" % (text, whole))
    check(usage == u, "stream usage %s vs %s" % (usage, u))

    st, body = vc.request(sock, "POST", "/v1/completions", body={"prompt": "the", "max_tokens": 5, "seed": 1})
    check(st == 200 and body["object"] == "text_completion" and isinstance(body["choices"][0]["text"], str),
          "completion: %s" % body)

    # logprobs: one entry per generated token, alternatives best first, and
    # greedy decoding picks the best one.
    st, body = vc.request(sock, "POST", "/v1/chat/completions",
                          body=dict(chat, temperature=0, logprobs=True, top_logprobs=3))
    lp = body["choices"][0]["logprobs"]["content"] if st == 200 else []
    check(len(lp) == body["usage"]["completion_tokens"] and len(lp) > 0, "logprobs count: %s" % body)
    for e in lp:
        tops = [t["logprob"] for t in e["top_logprobs"]]
        check(len(tops) == 3 and tops == sorted(tops, reverse=True) and e["logprob"] <= 0, "top_logprobs %s" % e)
        check(abs(e["logprob"] - tops[0]) < 1e-5 and bytes(e["bytes"]) == bytes(e["top_logprobs"][0]["bytes"]),
              "greedy token is not the best: %s" % e)
    st, body = vc.request(sock, "POST", "/v1/completions", body={"prompt": "the", "max_tokens": 3, "logprobs": 2})
    lp = body["choices"][0]["logprobs"]
    check(len(lp["tokens"]) == len(lp["token_logprobs"]) == len(lp["top_logprobs"]) == body["usage"]["completion_tokens"],
          "completion logprobs: %s" % lp)
    st, body = vc.request(sock, "POST", "/v1/chat/completions", body=dict(chat, top_logprobs=2))
    check(st == 400 and body["error"]["param"] == "top_logprobs", "top_logprobs without logprobs: %s" % body)

    # A prompt longer than the context is refused before any work.
    context_errors(sock)

    # Stop strings end the text and never appear in it.
    long_req = {"prompt": "the", "max_tokens": 40, "seed": 5, "temperature": 1}
    st, body = vc.request(sock, "POST", "/v1/completions", body=long_req)
    full = body["choices"][0]["text"]
    if len(full) > 8:
        stop = full[len(full) // 2: len(full) // 2 + 3]
        st, body = vc.request(sock, "POST", "/v1/completions", body=dict(long_req, stop=[stop]))
        got = body["choices"][0]["text"]
        check(got == full[:full.index(stop)] and body["choices"][0]["finish_reason"] == "stop",
              "stop %r: %r vs %r" % (stop, got, full))

    # 16 concurrent streams with different seeds each equal the same request alone.
    reqs = [{"messages": [{"role": "user", "content": "Request %d" % i}], "max_tokens": 16, "seed": 100 + i,
             "temperature": 1.0} for i in range(16)]
    alone = [collect(sock, "/v1/chat/completions", r)[0] for r in reqs]
    results = [None] * 16

    def run(i):
        results[i] = collect(sock, "/v1/chat/completions", reqs[i])[0]
    threads = [threading.Thread(target=run, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    # Bad requests while the streams run: each gets its error, the streams go on.
    st, _ = vc.request(sock, "POST", "/v1/chat/completions", raw=b"{broken")
    check(st == 400, "bad JSON during streams")
    check(vc.raw_exchange(sock, b"NOT HTTP AT ALL\r\n\r\n").startswith(b"HTTP/1.1 400"), "bad HTTP during streams")
    for t in threads:
        t.join()
    check(results == alone, "concurrent streams differ from alone:\n%s\n%s" % (results, alone))

    # Cancelling mid-stream frees the sequence's KV blocks.
    c = vc.UnixHTTPConnection(sock)
    c.request("POST", "/v1/completions", body=json.dumps({"prompt": "the", "max_tokens": 3000, "stream": True, "ignore_eos": True}),
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    for _ in range(8):  # past the first (role) chunk: tokens are flowing
        r.fp.readline()
    busy = status(sock)
    c.close()
    freed = False
    for _ in range(200):
        s = status(sock)
        if s["running"] == 0 and s["kv_cache"]["blocks_used"] == 0:
            freed = True
            break
        time.sleep(0.05)
    check(busy["running"] == 1 and busy["kv_cache"]["blocks_used"] > 0, "running while streaming: %s" % busy)
    check(freed, "KV blocks not freed after the client left: %s" % status(sock))

    # The CLI: vkinfer status and vkinfer chat against the daemon.
    env = dict(os.environ, VKINFER_SOCKET=sock)
    out = subprocess.run([vkinfer, "status"], capture_output=True, text=True, env=env, timeout=60)
    check(out.returncode == 0 and "kv cache: 0 of" in out.stdout, "vkinfer status: %s" % out.stdout)
    out = subprocess.run([vkinfer, "chat", "hello"], capture_output=True, text=True, env=env, timeout=120)
    check(out.returncode == 0 and out.stdout.endswith("\n"), "vkinfer chat: %r %r" % (out.stdout, out.stderr))
    # Interactive (lines on stdin): two good turns exit 0; a failed turn (an
    # unknown model) is reported, the chat goes on, and the exit status is 1.
    out = subprocess.run([vkinfer, "chat", "--max-tokens", "4"], input="hello\nagain\n", capture_output=True,
                         text=True, env=env, timeout=120)
    check(out.returncode == 0 and out.stdout.count("\n") >= 2, "interactive chat: %r %r" % (out.stdout, out.stderr))
    out = subprocess.run([vkinfer, "chat", "--model", "nope", "--max-tokens", "4"], input="hello\nagain\n",
                         capture_output=True, text=True, env=env, timeout=120)
    check(out.returncode == 1 and out.stderr.count("nope") >= 2, "interactive chat, failed turns: %d %r"
          % (out.returncode, out.stderr))


def shared_validation(sock):
    """What D-Bus accepts too, and the same way (test_dbus.py has the other
    half): role developer is system, seed -1 is a random seed and other
    negative seeds are refused, empty stop strings are refused."""
    url = "/v1/chat/completions"
    seeded = {"max_tokens": 8, "seed": 3, "temperature": 0.9}
    answers = {}
    for role in ("developer", "system"):
        st, body = vc.request(sock, "POST", url, body=dict(seeded, messages=[{"role": role, "content": "Be brief"},
                                                                             {"role": "user", "content": "hi"}]))
        answers[role] = body["choices"][0]["message"]["content"] if st == 200 else (st, body)
    check(answers["developer"] == answers["system"] and isinstance(answers["system"], str),
          "role developer is not system: %s" % answers)
    chat = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    st, body = vc.request(sock, "POST", url, body=dict(chat, seed=-1))
    check(st == 200, "seed -1 (a random seed): %s %s" % (st, body))
    for what, extra, param, needle in (("seed -2", {"seed": -2}, "seed", "or -1"),
                                       ("an empty stop", {"stop": ""}, "stop", "non-empty"),
                                       ("an empty stop in a list", {"stop": ["a", ""]}, "stop", "non-empty"),
                                       ("17 stops", {"stop": ["s%d" % i for i in range(17)]}, "stop", "at most 16"),
                                       ("role tool", {"messages": [{"role": "tool", "content": "x"}]}, "messages",
                                        "not supported")):
        st, body = vc.request(sock, "POST", url, body=dict(chat, **extra))
        err = body.get("error", {}) if isinstance(body, dict) else {}
        check(st == 400 and err.get("param") == param and needle in err.get("message", ""),
              "%s: %s %s" % (what, st, body))


def main():
    vkinferd, model, vkinfer = sys.argv[1], sys.argv[2], sys.argv[3]
    tmp = tempfile.mkdtemp(prefix="vkinferd-test-")
    sock = os.path.join(tmp, "sub", "vkinfer.sock")
    p = start(vkinferd, model, sock, "--no-dbus")
    name = os.path.basename(model)[:-5]
    try:
        mode = stat.S_IMODE(os.stat(sock).st_mode)
        check(mode == 0o660, "socket mode %o" % mode)

        st, body = vc.request(sock, "GET", "/health")
        check(st == 200 and body.get("status") == "ok", "health: %s %s" % (st, body))
        st, body = vc.request(sock, "GET", "/v1/models")
        check(st == 200 and body["object"] == "list" and body["data"][0]["id"] == name, "models: %s" % body)

        chat = {"messages": [{"role": "user", "content": "hi"}]}
        # A long stream runs through every bad request below and must come
        # out exactly as the same request alone.
        steady = {"prompt": "And God said", "max_tokens": 150, "seed": 11, "temperature": 0.9, "ignore_eos": True}
        steady_alone = collect(sock, "/v1/completions", steady)[0]
        steady_result = {}

        def steady_run():
            steady_result["text"], steady_result["finish"], _, _ = collect(sock, "/v1/completions", steady)
        steady_thread = threading.Thread(target=steady_run)
        steady_thread.start()
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

        malformed_http(sock)
        shared_validation(sock)

        # A client that sends half a request and stalls holds nobody up.
        stall = socket.socket(socket.AF_UNIX)
        stall.connect(sock)
        stall.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"mess")
        t0 = time.monotonic()
        st, body = vc.request(sock, "GET", "/health", timeout=5)
        check(st == 200 and time.monotonic() - t0 < 2, "health while a client stalls")
        stall.close()
        steady_thread.join(300)
        check(steady_result.get("text") == steady_alone and steady_result.get("finish") == "length",
              "the stream running beside the bad requests changed: %r vs %r" % (steady_result, steady_alone))

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


        gen_tests(sock, name, vkinfer)
        check(p.poll() is None, "daemon still running")
    finally:
        rc = harness.stop_daemon(p)
        check(rc == 0, "clean exit on SIGTERM: %s" % rc)
        check(not os.path.exists(sock), "socket removed at exit")
        if harness.failures:
            print(open(logpath(sock)).read(), file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)
    print("daemon-api: %s" % ("ok" if not harness.failures else "%d failed" % harness.failures), file=sys.stderr)
    return 1 if harness.failures else 0


if __name__ == "__main__":
    sys.exit(main())
