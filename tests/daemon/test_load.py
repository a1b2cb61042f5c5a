#!/usr/bin/env python3
"""Load: 256 clients at once over the Unix socket, streamed and non-streamed,
chat and completion, a tenth of them hanging up mid-stream, bad requests in
between, and two SIGHUPs while it runs. Every good request gets a complete,
well-formed answer or a clean 429; seeded requests give the text they give
alone; the daemon ends where it began (its fd count, and its RSS within a
margin for the allocator).

usage: test_load.py VKINFERD MODEL.gguf

The RSS margin: 15% + 16 MiB over the level after a warm-up burst (glibc
keeps freed arenas; a leak of the 256 requests' buffers is far above it).
The fd count must come back exactly."""
import json
import os
import random
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import vkinfer_client as vc  # noqa: E402
from harness import check  # noqa: E402
import harness  # noqa: E402

# A third argument scales it down: the ASan build (meson passes 64) runs
# the daemon several times slower, and 256 clients there mostly meet 429.
CLIENTS = int(sys.argv[3]) if len(sys.argv) > 3 else 256
SEEDS = [1, 2, 3, 4]
lock = threading.Lock()
tally = {}


def count(what):
    with lock:
        tally[what] = tally.get(what, 0) + 1


def body_for(i, seed=None, chat=None):
    chat = (i // 2) % 2 == 0 if chat is None else chat  # both kinds streamed and not
    b = {"max_tokens": 8 + i % 8, "temperature": 0.8}
    if seed is not None:
        b.update(seed=seed, max_tokens=12, ignore_eos=True)  # never empty
    if chat:
        b["messages"] = [{"role": "user", "content": "Who begat Enos?"}]
    else:
        b["prompt"] = "And God said"
    if i % 3 == 0:
        b["model"] = "demo"  # the others take the default model
    return ("/v1/chat/completions" if chat else "/v1/completions"), b


def text_of(choice, chat):
    return (choice.get("message") or {}).get("content") if chat else choice.get("text")


def plain(sock, url, body):
    """A non-streamed request: ('429', None) or ('ok', text); checks the shape."""
    st, r = vc.request(sock, "POST", url, body=body, timeout=170)
    if st == 429:
        check(isinstance(r, dict) and "error" in r, "429 without an error body: %r" % (r,))
        return "429", None
    ok = st == 200 and isinstance(r, dict) and len(r.get("choices", [])) == 1 and "usage" in r
    check(ok, "non-streamed %s: %s %r" % (url, st, r))
    if not ok:
        return "bad", None
    c = r["choices"][0]
    check(c.get("finish_reason") in ("stop", "length"), "finish_reason %r" % (c,))
    return "ok", text_of(c, url.endswith("chat/completions"))


def streamed(sock, url, body, hang_up=False):
    """A streamed request read to [DONE] (or dropped after its first event)."""
    chat = url.endswith("chat/completions")
    c = vc.UnixHTTPConnection(sock, 170)
    c.request("POST", url, body=json.dumps(dict(body, stream=True)).encode(),
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    if r.status == 429:
        err = r.read()
        check(b'"error"' in err, "streamed 429 without an error body: %r" % err)
        c.close()
        return "429", None
    if r.status != 200:
        check(False, "streamed %s: HTTP %d %r" % (url, r.status, r.read()[:300]))
        c.close()
        return "bad", None
    text, finish, done = "", None, False
    for line in r:
        line = line.decode().rstrip("\r\n")
        if not line.startswith("data: "):
            continue
        if hang_up:
            c.sock.shutdown(socket.SHUT_RDWR)  # a real hang-up, not a half-close
            c.close()
            return "hung-up", None
        if line[6:] == "[DONE]":
            done = True
            break
        ev = json.loads(line[6:])
        check("error" not in ev, "error event: %r" % ev)
        for ch in ev.get("choices", []):
            delta = ch.get("delta", {}) if chat else ch
            text += (delta.get("content") if chat else delta.get("text")) or ""
            finish = ch.get("finish_reason") or finish
    c.close()
    check(done and finish in ("stop", "length"), "stream %s incomplete: finish %r, [DONE] %s" % (url, finish, done))
    return ("ok", text) if done else ("bad", None)


# Bad requests, each with the status it must get: malformed JSON, a bad
# type, bad UTF-8 (bare and inside a string), an unknown model, a prompt
# longer than the context (refused before the queue is looked at).
BAD = [
    ("/v1/completions", b'{"messages": [', 400),
    ("/v1/chat/completions", b'{"messages": "hi"}', 400),
    ("/v1/completions", b'{"prompt": "x", "max_tokens": -3}', 400),
    ("/v1/completions", b'{"prompt": "x", "temperature": "hot"}', 400),
    ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": "hi"}], "model": "no-such-model"}', 404),
    ("/v1/completions", b'\xff\xfe', 400),
    ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": "\xc3\x28"}]}', 400),
    ("/v1/completions", json.dumps({"prompt": "x" * 5000}).encode(), 400),
]


def bad_request(sock, i):
    url, data, want = BAD[(i // 10) % len(BAD)]
    st, r = vc.request(sock, "POST", url, raw=data, timeout=60)
    check(st == want and isinstance(r, dict) and "message" in r.get("error", {}),
          "bad request %r: %s %r (want %d)" % (data[:60], st, r, want))
    return "refused"


def client(sock, i, start, refs):
    rnd = random.Random(i)
    start.wait()
    time.sleep(rnd.random() * 2.0)  # spread over the SIGHUPs
    try:
        if i % 10 == 5:
            count(bad_request(sock, i))
            return
        stream = i % 2 == 1
        hang_up = i % 10 == 1  # a tenth of all clients, streamed ones
        seed = SEEDS[(i // 4) % len(SEEDS)] if i % 3 != 2 else None
        url, body = body_for(i, seed)
        what, text = streamed(sock, url, body, hang_up) if stream else plain(sock, url, body)
        count(what)
        if what == "ok" and seed is not None:
            count("seeded")
            want = refs[(url, seed)]
            check(text == want, "seed %d over %s under load: %r, alone %r" % (seed, url, text, want))
    except Exception as e:  # noqa: BLE001 - any failure to get an answer is one
        check(False, "client %d: %s: %s" % (i, type(e).__name__, e))
        count("error")


def rss_kb(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def idle(sock, timeout=60):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        st, s = vc.request(sock, "GET", "/status")
        if st == 200 and s.get("queued") == 0 and s.get("running") == 0:
            return True
        time.sleep(0.2)
    return False


def burst(sock, n, refs):
    start = threading.Event()
    threads = [threading.Thread(target=client, args=(sock, i, start, refs)) for i in range(n)]
    for t in threads:
        t.start()
    start.set()
    return threads


def main():
    vkinferd, model = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="vkinferd-load-")
    sock, conf = os.path.join(tmp, "s.sock"), os.path.join(tmp, "vkinferd.conf")
    conf_text = "[server]\ndbus = no\n[scheduler]\nqueue-size = 64\n[model demo]\npath = %s\n" % model
    open(conf, "w").write(conf_text)
    log = os.path.join(tmp, "log")
    env = dict(os.environ)
    # Under ASan, a small quarantine, so that freed memory shows as freed.
    env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=8").lstrip(":")
    p = harness.start_daemon([vkinferd, "--config", conf, "--socket", sock], sock, log, env=env)
    t_start = time.monotonic()
    try:
        # What each seeded request gives alone.
        refs = {}
        for chat in (True, False):
            for seed in SEEDS:
                url, body = body_for(0, seed, chat)
                what, text = plain(sock, url, body)
                refs[(url, seed)] = text
                check(what == "ok" and text, "alone: seed %d %s: %s %r" % (seed, url, what, text))
        # A first burst brings the allocator to its working size; the
        # baseline is taken after it.
        for t in burst(sock, 64, refs):
            t.join(170)
        check(idle(sock), "idle after the warm-up burst")
        time.sleep(0.5)
        rss0, fd0 = rss_kb(p.pid), fds(p.pid)
        tally.clear()

        threads = burst(sock, CLIENTS, refs)
        for delay in (0.7, 1.6):  # two reloads while the clients run
            time.sleep(delay)
            p.send_signal(signal.SIGHUP)
        for t in threads:
            t.join(170)
        check(not any(t.is_alive() for t in threads), "clients still waiting")
        check(p.poll() is None, "vkinferd exited: %s" % p.returncode)
        print("load: %r" % sorted(tally.items()), file=sys.stderr)
        check(tally.get("ok", 0) >= CLIENTS // 4, "too few answered: %r" % tally)
        check(tally.get("seeded", 0) >= 8, "too few seeded answers to compare: %r" % tally)
        check(tally.get("hung-up", 0) >= CLIENTS // 40, "too few hang-ups: %r" % tally)
        check(tally.get("error", 0) == 0 and tally.get("bad", 0) == 0, "failed answers: %r" % tally)

        # Back to the baseline: every connection closed, memory returned.
        check(idle(sock), "idle after the load")
        fd1 = None
        for _ in range(50):
            fd1 = fds(p.pid)
            if fd1 <= fd0:
                break
            time.sleep(0.2)
        rss1 = rss_kb(p.pid)
        print("load: fds %d -> %d, VmRSS %d -> %d kB, %.0f s" % (fd0, fd1, rss0, rss1, time.monotonic() - t_start),
              file=sys.stderr)
        check(fd1 == fd0, "fds %d after the load, %d before" % (fd1, fd0))
        check(rss1 <= rss0 * 1.15 + 16384, "VmRSS %d kB after the load, %d kB before" % (rss1, rss0))
        st, h = vc.request(sock, "GET", "/health")
        check(st == 200, "health after the load: %s %r" % (st, h))
    finally:
        rc = harness.stop_daemon(p)
    check(rc == 0, "exit status %s" % rc)
    code = harness.finish("test_load", log)
    shutil.rmtree(tmp, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
