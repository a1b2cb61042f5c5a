#!/usr/bin/env python3
"""What keeps one client (or a crowd) from taking the daemon down: the
connection cap below the file descriptor limit (past it a clean 503, and
the daemon answers again once they close); the deadline for a whole request
(a client trickling it a byte at a time is cut off with 408); a queue slot
freed as soon as its client leaves; a long prompt tokenized off the event
loop, so that it holds up no other client.

usage: test_limits.py VKINFERD MODEL.gguf DEMO.gguf"""
import json
import os
import random
import resource
import shutil
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


def start(vkinferd, model, tmp, conf_text="", nofile=None):
    sock, conf = os.path.join(tmp, "s.sock"), os.path.join(tmp, "vkinferd.conf")
    open(conf, "w").write("[server]\ndbus = no\n" + conf_text)

    def lower_limit():
        if nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    log = open(os.path.join(tmp, "log"), "a")
    p = subprocess.Popen([vkinferd, "--config", conf, "--socket", sock, "--model", model], stdout=log, stderr=log,
                         preexec_fn=lower_limit)
    check(harness.wait_for_socket(p, sock), "vkinferd did not start")
    return p, sock


def open_fds(p):
    return len(os.listdir("/proc/%d/fd" % p.pid))


def connect(sock, timeout=5):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(sock)
    return s


def status_line_and_body(s):
    """Reads one answer (Connection: close or Content-Length)."""
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        n = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                n = int(v)
        while len(body) < n:
            chunk = s.recv(4096)
            if not chunk:
                break
            body += chunk
        return head.split(b"\r\n")[0].decode(), body
    except OSError as e:
        return repr(e), b""


def fd_limit(vkinferd, model):
    """Under RLIMIT_NOFILE = 96, 150 clients at once: the daemon caps its
    connections below the limit and answers the rest 503 at once (it used
    to run out of descriptors: the excess waited unanswered), and serves
    again, with its descriptors back to where they were, once they close."""
    tmp = tempfile.mkdtemp(prefix="vkinferd-fds-")
    p, sock = start(vkinferd, model, tmp, nofile=96)
    try:
        base = open_fds(p)
        clients = []
        for _ in range(150):
            try:
                clients.append(connect(sock))
            except OSError as e:
                check(False, "connect: %r" % e)
                break
        for s in clients:
            try:
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            except OSError:
                pass  # a refused one may be closed already: its 503 is still there to read
        got = {}
        refusal = None
        deadline = time.monotonic() + 10  # for all of them: the old daemon left the excess unanswered
        for s in clients:
            s.settimeout(max(0.05, deadline - time.monotonic()))
            line, body = status_line_and_body(s)
            got[line] = got.get(line, 0) + 1
            if " 503 " in line and refusal is None:
                refusal = body
        ok, busy = got.get("HTTP/1.1 200 OK", 0), got.get("HTTP/1.1 503 Service Unavailable", 0)
        check(ok + busy == len(clients) and ok >= 16 and busy >= 1, "answers under the limit: %s" % got)
        try:
            err = json.loads(refusal)["error"]
            check("max-connections" in err["message"] and err["type"], "the 503's body: %s" % err)
        except (TypeError, ValueError, KeyError):
            check(False, "the 503's body: %r" % refusal)
        for s in clients:
            s.close()
        for _ in range(100):
            if open_fds(p) <= base:
                break
            time.sleep(0.05)
        check(open_fds(p) <= base, "descriptors after: %d, before: %d" % (open_fds(p), base))
        st, body = vc.request(sock, "GET", "/health", timeout=10)
        check(st == 200, "/health after the crowd left: %s %s" % (st, body))
        st, body = vc.request(sock, "POST", "/v1/completions", body={"prompt": "x", "max_tokens": 2}, timeout=30)
        check(st == 200, "a completion after the crowd left: %s %s" % (st, body))
        log = open(os.path.join(tmp, "log")).read()
        check("Too many open files" not in log, "the daemon ran out of descriptors")
        check("max-connections lowered" in log, "no word of the lowered cap in the log")
    finally:
        rc = harness.stop_daemon(p)
        check(rc == 0, "clean exit: %s" % rc)
        if harness.failures:
            print(open(os.path.join(tmp, "log")).read()[-3000:], file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)


def max_connections(vkinferd, model):
    """max-connections = 3: a fourth client gets 503 at once, even while the
    first three send nothing; one leaving makes room. Connections that
    ended every which way before are no longer counted."""
    tmp = tempfile.mkdtemp(prefix="vkinferd-maxconn-")
    p, sock = start(vkinferd, model, tmp, "max-connections = 3\n")
    try:
        for _ in range(3):
            vc.request(sock, "GET", "/health")
            vc.raw_exchange(sock, b"GARBAGE\r\n\r\n")
            connect(sock).close()
            s = connect(sock)
            s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{")
            s.close()
            vc.request(sock, "POST", "/v1/completions", body={"prompt": "x", "max_tokens": 1})
            try:
                list(vc.stream(sock, "/v1/completions", {"prompt": "x", "max_tokens": 1}))
            except RuntimeError:
                pass
        time.sleep(0.3)  # the ones closed last are gone
        idle = [connect(sock) for _ in range(3)]
        s = connect(sock)
        t0 = time.monotonic()
        line, body = status_line_and_body(s)
        s.close()
        check(" 503 " in line and b"max-connections = 3" in body and time.monotonic() - t0 < 3,
              "the fourth connection: %s %r" % (line, body))
        idle.pop().close()
        time.sleep(0.2)
        st, body = vc.request(sock, "GET", "/health", timeout=10)
        check(st == 200, "with room again: %s %s" % (st, body))
        for s in idle:
            s.close()
    finally:
        rc = harness.stop_daemon(p)
        check(rc == 0, "clean exit: %s" % rc)
        if harness.failures:
            print(open(os.path.join(tmp, "log")).read()[-3000:], file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)


def trickle(sock, head, rest, interval=0.25, limit=10.0, s=None):
    """Sends head at once, then rest a byte per interval until the server
    answers or closes (or limit seconds pass): (seconds taken, what came
    back, whether the server closed)."""
    s = s or connect(sock)
    s.sendall(head)
    t0 = time.monotonic()
    got, closed = b"", False
    s.settimeout(interval)
    i = 0
    while time.monotonic() - t0 < limit:
        if i < len(rest):
            try:
                s.sendall(rest[i:i + 1])
            except OSError:
                closed = True
            i += 1
        try:
            chunk = s.recv(4096)
            if not chunk:
                closed = True
                break
            got += chunk
        except socket.timeout:
            pass
        except OSError:
            closed = True
            break
    s.close()
    return time.monotonic() - t0, got, closed


def slowloris(vkinferd, model):
    """request-deadline = 2: a request line, headers or a body sent a byte
    at a time gets 408 and the connection closes once the deadline passes
    (MHD's idle timeout alone never fired: each byte reset it); a kept-alive
    connection may idle past the deadline before its next request, and a
    slow answer is not cut."""
    tmp = tempfile.mkdtemp(prefix="vkinferd-slowloris-")
    p, sock = start(vkinferd, model, tmp, "request-deadline = 2\nrequest-timeout = 60\n")
    body = json.dumps({"prompt": "x", "max_tokens": 2}).encode()
    cases = {
        "request line": (b"", b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"),
        "headers": (b"POST /v1/completions HTTP/1.1\r\n", b"Host: x\r\nContent-Type: application/json\r\n" * 4),
        "body": (b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body), body),
    }
    try:
        for what, (head, rest) in cases.items():
            took, got, closed = trickle(sock, head, rest)
            line = got.split(b"\r\n")[0]
            check(line == b"HTTP/1.1 408 Request Timeout" and b"request-deadline" in got and closed and
                  1.5 < took < 5, "a slow %s: %.1fs, %r, closed %s" % (what, took, got[:200], closed))
        # Kept alive: idle 3s (past the deadline, within request-timeout),
        # then a next request comes whole and is answered; a next one that
        # trickles is cut.
        s = connect(sock)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        line, _ = status_line_and_body(s)
        check(line == "HTTP/1.1 200 OK", "first request: %s" % line)
        time.sleep(3)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        line, _ = status_line_and_body(s)
        check(line == "HTTP/1.1 200 OK", "a next request after idling past the deadline: %s" % line)
        took, got, closed = trickle(sock, b"GET /health HTTP/1.1\r\n", b"Host: x\r\n" * 8, s=s)
        check(got.startswith(b"HTTP/1.1 408 ") and closed and 1.5 < took < 5,
              "a slow next request: %.1fs, %r" % (took, got[:100]))
        # An answer longer than the deadline is not cut.
        t0 = time.monotonic()
        text, finish = "", None
        for ev in vc.stream(sock, "/v1/completions", {"prompt": "the", "max_tokens": 300, "ignore_eos": True}):
            if ev == "[DONE]":
                break
            for ch in ev.get("choices", []):
                text += ch.get("text", "")
                finish = ch.get("finish_reason") or finish
        took = time.monotonic() - t0
        check(finish == "length", "a long stream: %s after %.1fs" % (finish, took))
        if took < 2.5:
            print("note: the long stream took only %.1fs" % took, file=sys.stderr)
        st, got = vc.request(sock, "GET", "/health")
        check(st == 200 and p.poll() is None, "after the slow clients: %s" % st)
    finally:
        rc = harness.stop_daemon(p)
        check(rc == 0, "clean exit: %s" % rc)
        if harness.failures:
            print(open(os.path.join(tmp, "log")).read()[-3000:], file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)


def queue_slot(vkinferd, model):
    """queue-size = 1: a queued request whose client leaves frees its slot
    at once, not when the step running on the device ends (which showed as
    429s to the next clients). The step is made long by a long prompt on
    the plain-C reference device."""
    tmp = tempfile.mkdtemp(prefix="vkinferd-queue-")
    p, sock = start(vkinferd, model, tmp, "[scheduler]\nqueue-size = 1\nmax-sequences = 1\nmax-batch-tokens = 4096\n"
                    "[device]\ndevice = cpu-reference\n")

    def health():
        return vc.request(sock, "GET", "/health")[1]

    def post(body):
        s = connect(sock, timeout=120)
        data = json.dumps(body).encode()
        s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n%s" % (len(data), data))
        return s

    try:
        long_step = post({"prompt": "a " * 800, "max_tokens": 1})
        for _ in range(200):
            if health().get("running") == 1:
                break
            time.sleep(0.01)
        t0 = time.monotonic()
        queued = post({"prompt": "x", "max_tokens": 1})
        for _ in range(200):
            if health().get("queued") == 1:
                break
            time.sleep(0.01)
        check(health().get("queued") == 1, "the second request is not queued: %s" % health())
        queued.close()
        time.sleep(0.8)  # the daemon looks for clients gone every 0.5s
        busy = health()
        nxt = post({"prompt": "x", "max_tokens": 1})
        line, body = status_line_and_body(nxt)
        check(line == "HTTP/1.1 200 OK", "a request after a queued one left: %s %r (%s, %.1fs into the step)"
              % (line, body[:200], busy, time.monotonic() - t0))
        if busy.get("running") != 1:
            print("note: the long step ended before the check (%s)" % busy, file=sys.stderr)
        line, body = status_line_and_body(long_step)
        check(line == "HTTP/1.1 200 OK", "the long request: %s %r" % (line, body[:200]))
        log = open(os.path.join(tmp, "log")).read()
        check("went away while waiting, cancelling" in log, "the queued request was not cancelled")
    finally:
        rc = harness.stop_daemon(p)
        check(rc == 0, "clean exit: %s" % rc)
        if harness.failures:
            print(open(os.path.join(tmp, "log")).read()[-3000:], file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)


def tokenize_off_loop(vkinferd, demo):
    """A 4 MB prompt takes the demo model's BPE tokenizer about a second; it
    used to be tokenized on the event loop, which answered nobody else
    meanwhile. /health must keep answering while it runs."""
    tmp = tempfile.mkdtemp(prefix="vkinferd-tokenize-")
    p, sock = start(vkinferd, demo, tmp, "max-body = 8388608\n")
    try:
        rnd = random.Random(1)
        prompt = "".join(rnd.choice("ab") for _ in range(4 << 20))  # one word: the slowest case for BPE
        res = {}

        def big():
            t0 = time.monotonic()
            res["answer"] = vc.request(sock, "POST", "/v1/completions", body={"prompt": prompt, "max_tokens": 1},
                                       timeout=120)
            res["took"] = time.monotonic() - t0

        t = threading.Thread(target=big)
        t.start()
        worst, n = 0.0, 0
        while t.is_alive():
            t0 = time.monotonic()
            st, _ = vc.request(sock, "GET", "/health", timeout=60)
            worst = max(worst, time.monotonic() - t0)
            n += 1
            check(st == 200, "/health during the long prompt: %s" % st)
        t.join()
        st, body = res.get("answer", (None, None))
        msg = body.get("error", {}).get("message", "") if isinstance(body, dict) else ""
        check(st == 400 and "tokens" in msg, "the long prompt (longer than the context): %s %s" % (st, body))
        took = res.get("took", 0)
        check(worst < took / 2, "/health waited %.2fs of the %.2fs the long prompt took (%d answers)"
              % (worst, took, n))
    finally:
        rc = harness.stop_daemon(p)
        check(rc == 0, "clean exit: %s" % rc)
        if harness.failures:
            print(open(os.path.join(tmp, "log")).read()[-3000:], file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    vkinferd, model, demo = sys.argv[1], sys.argv[2], sys.argv[3]
    tokenize_off_loop(vkinferd, demo)
    queue_slot(vkinferd, model)
    fd_limit(vkinferd, model)
    max_connections(vkinferd, model)
    slowloris(vkinferd, model)
    return harness.finish("limits")


if __name__ == "__main__":
    sys.exit(main())
