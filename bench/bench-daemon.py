#!/usr/bin/env python3
"""Aggregate decode tokens/s and time to first token of vkinferd at 1, 4 and
16 concurrent streams (not a test: a benchmark; record figures in
bench/RESULTS.md with device, model, quant, commit and date).

usage: bench/bench-daemon.py [--vkinferd build/daemon/vkinferd] [--model M]
                             [--tokens 64] [--streams 1,4,16] [--device DEV]"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "daemon"))
import vkinfer_client as vc  # noqa: E402


def one_stream(sock, i, tokens, out):
    body = {"prompt": "And God said %d" % i, "max_tokens": tokens, "ignore_eos": True, "seed": i,
            "stream": True, "stream_options": {"include_usage": True}}
    t0 = time.monotonic()
    first, n = None, 0
    for ev in vc.stream(sock, "/v1/completions", body, timeout=3600):
        if ev == "[DONE]":
            break
        if ev.get("usage"):
            n = ev["usage"]["completion_tokens"]
        elif first is None and any(ch.get("text") for ch in ev.get("choices", [])):
            first = time.monotonic() - t0
    out[i] = (first or 0.0, n, time.monotonic() - t0)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--vkinferd", default=os.path.join(here, "..", "build", "daemon", "vkinferd"))
    ap.add_argument("--model", default=os.path.join(here, "..", "models", "demo", "demo.gguf"))
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--streams", default="1,4,16")
    ap.add_argument("--device")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="vkinferd-bench-")
    sock = os.path.join(tmp, "s.sock")
    cmd = [a.vkinferd, "--no-dbus", "--socket", sock, "--model", a.model, "--max-sequences", "16"]
    if a.device:
        cmd += ["--device", a.device]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "log"), "w"))
    try:
        for _ in range(6000):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        time.sleep(0.2)
        st, status = vc.request(sock, "GET", "/status")
        print("device: %s; model: %s; %d tokens per stream" % (status["device"], a.model, a.tokens))
        print("| streams | aggregate decode tok/s | per stream tok/s | TTFT median (ms) | TTFT max (ms) |")
        print("|---|---|---|---|---|")
        for n in [int(x) for x in a.streams.split(",")]:
            out = [None] * n
            threads = [threading.Thread(target=one_stream, args=(sock, i, a.tokens, out)) for i in range(n)]
            t0 = time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.monotonic() - t0
            total = sum(o[1] for o in out)
            ttft = [o[0] * 1e3 for o in out]
            per = statistics.median(o[1] / max(o[2] - o[0], 1e-9) for o in out)
            print("| %d | %.1f | %.1f | %.0f | %.0f |" % (n, total / wall, per, statistics.median(ttft), max(ttft)))
            sys.stdout.flush()
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=120)


if __name__ == "__main__":
    main()
