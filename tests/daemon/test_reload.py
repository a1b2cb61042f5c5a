#!/usr/bin/env python3
"""SIGHUP re-reads the configuration: a new model appears, a removed one
disappears, and a stream running on the removed model finishes unharmed.
Models loaded after several reloads still open the configured device (the
engine once kept a pointer into the freed first configuration), and the
pipeline cache goes to [device] cache-dir.

usage: test_reload.py VKINFERD MODEL.gguf"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import vkinfer_client as vc  # noqa: E402
from harness import check  # noqa: E402
import harness  # noqa: E402

def models(sock):
    st, body = vc.request(sock, "GET", "/v1/models")
    return [m["id"] for m in body["data"]]


def main():
    vkinferd, model = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="vkinferd-reload-")
    sock = os.path.join(tmp, "s.sock")
    conf = os.path.join(tmp, "vkinferd.conf")
    cache = os.path.join(tmp, "cache")
    device = "[device]\ndevice = 0\ncache-dir = %s\n" % cache
    open(conf, "w").write("[server]\ndbus = no\n%s[model alpha]\npath = %s\n" % (device, model))
    log = open(os.path.join(tmp, "log"), "w")
    p = subprocess.Popen([vkinferd, "--config", conf, "--socket", sock], stdout=log, stderr=log)
    try:
        for _ in range(400):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        time.sleep(0.2)
        check(models(sock) == ["alpha"], "before: %s" % models(sock))
        result = {}

        def long_stream():
            text, finish = "", None
            for ev in vc.stream(sock, "/v1/completions", {"model": "alpha", "prompt": "the", "max_tokens": 300,
                                                          "ignore_eos": True, "seed": 1}):
                if ev == "[DONE]":
                    break
                for ch in ev.get("choices", []):
                    text += ch.get("text", "")
                    finish = ch.get("finish_reason") or finish
            result["finish"] = finish

        t = threading.Thread(target=long_stream)
        t.start()
        time.sleep(0.3)
        open(conf, "w").write("[server]\ndbus = no\n%s[model beta]\npath = %s\n" % (device, model))
        p.send_signal(signal.SIGHUP)
        for _ in range(200):
            if models(sock) == ["beta"]:
                break
            time.sleep(0.05)
        check(models(sock) == ["beta"], "after reload: %s" % models(sock))
        st, body = vc.request(sock, "POST", "/v1/completions", body={"model": "alpha", "prompt": "x", "max_tokens": 2})
        check(st == 404, "removed model still answers: %s" % st)
        st, body = vc.request(sock, "POST", "/v1/completions", body={"model": "beta", "prompt": "x", "max_tokens": 2})
        check(st == 200, "new model: %s %s" % (st, body))
        t.join(120)
        check(result.get("finish") == "length", "stream across the reload: %s" % result)
        # A broken file keeps the running configuration.
        open(conf, "w").write("[server\n")
        p.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        check(p.poll() is None and models(sock) == ["beta"], "broken reload")
        # Two more reloads, each loading a model on the configured device.
        for name in ("gamma", "delta"):
            open(conf, "w").write("[server]\ndbus = no\n%s[model %s]\npath = %s\n" % (device, name, model))
            p.send_signal(signal.SIGHUP)
            for _ in range(200):
                if models(sock) == [name]:
                    break
                time.sleep(0.05)
            check(models(sock) == [name], "reload to %s: %s" % (name, models(sock)))
        st, body = vc.request(sock, "POST", "/v1/completions", body={"model": "delta", "prompt": "x", "max_tokens": 2})
        check(st == 200, "model loaded after three reloads: %s %s" % (st, body))
    finally:
        rc = harness.stop_daemon(p)
        check(rc == 0, "clean exit: %s" % rc)
        cached = [f for f in os.listdir(cache) if f.startswith("pipelines-")] if os.path.isdir(cache) else []
        check(cached, "no pipeline cache in cache-dir %s" % cache)
        if harness.failures:
            print(open(os.path.join(tmp, "log")).read(), file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)
    default_renamed(vkinferd, model)
    models_dir(vkinferd, model)
    no_model(vkinferd, model)
    print("reload: %s" % ("ok" if not harness.failures else "%d failed" % harness.failures), file=sys.stderr)
    return 1 if harness.failures else 0


def default_renamed(vkinferd, model):
    """Requests that name no model run on the default one; a reload that
    renames it (so the old one is unloaded after them) must not pull its name
    from under them: each answer, streamed or not, ends well and names the
    model that served it (the daemon once kept a pointer to the engine's copy
    of the name, freed with the model: false 500s, streams without their
    finish chunk, an ASan abort)."""
    tmp = tempfile.mkdtemp(prefix="vkinferd-renamed-")
    sock, conf = os.path.join(tmp, "s.sock"), os.path.join(tmp, "vkinferd.conf")
    open(conf, "w").write("[server]\ndbus = no\n[model alpha]\npath = %s\n" % model)
    p = harness.start_daemon([vkinferd, "--config", conf, "--socket", sock], sock, os.path.join(tmp, "log"))
    try:
        for rnd, (old, new) in enumerate((("alpha", "beta"), ("beta", "gamma"), ("gamma", "delta"))):
            results = {}

            def whole(k):
                try:
                    st, body = vc.request(sock, "POST", "/v1/completions",
                                          body={"prompt": "the", "max_tokens": 40 + 10 * k, "ignore_eos": True,
                                                "seed": k})
                    results["whole%d" % k] = (st, body.get("model") if isinstance(body, dict) else body,
                                              (body.get("choices") or [{}])[0].get("finish_reason") if st == 200 else body)
                except (OSError, ValueError) as e:  # http.client's errors are OSErrors or ValueErrors
                    results["whole%d" % k] = repr(e)

            def streamed(k):
                names, finish, done = set(), None, False
                try:
                    for ev in vc.stream(sock, "/v1/chat/completions",
                                        {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 40 + 10 * k,
                                         "ignore_eos": True, "seed": k}):
                        if ev == "[DONE]":
                            done = True
                            break
                        names.add(ev.get("model"))
                        for ch in ev.get("choices", []):
                            finish = ch.get("finish_reason") or finish
                except (RuntimeError, OSError, ValueError) as e:
                    names.add(repr(e))
                results["stream%d" % k] = (names, finish, done)

            threads = [threading.Thread(target=whole, args=(k,)) for k in range(4)]
            threads += [threading.Thread(target=streamed, args=(k,)) for k in range(3)]
            for t in threads:
                t.start()
            # Once they run, rename the default model under them.
            for _ in range(200):
                st, body = vc.request(sock, "GET", "/health")
                if body.get("running", 0) + body.get("queued", 0) >= len(threads):
                    break
                time.sleep(0.02)
            open(conf, "w").write("[server]\ndbus = no\n[model %s]\npath = %s\n" % (new, model))
            p.send_signal(signal.SIGHUP)
            for t in threads:
                t.join(120)
            for k in range(4):
                check(results.get("whole%d" % k) == (200, old, "length"),
                      "round %d: a whole answer across the rename: %s" % (rnd, results.get("whole%d" % k)))
            for k in range(3):
                check(results.get("stream%d" % k) == ({old}, "length", True),
                      "round %d: a stream across the rename: %s" % (rnd, results.get("stream%d" % k)))
            check(models(sock) == [new], "round %d: after the rename: %s" % (rnd, models(sock)))
        check(p.poll() is None, "the daemon died across the renames")
    finally:
        rc = harness.stop_daemon(p)
        check(rc == 0, "clean exit: %s" % rc)
        if harness.failures:
            print(open(os.path.join(tmp, "log")).read()[-3000:], file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)


def models_dir(vkinferd, model):
    """[server] models-dir: its *.gguf files are served after the sections,
    named after the files; a reload picks up files added and removed."""
    tmp = tempfile.mkdtemp(prefix="vkinferd-models-dir-")
    sock, conf, d = os.path.join(tmp, "s.sock"), os.path.join(tmp, "vkinferd.conf"), os.path.join(tmp, "models")
    os.mkdir(d)
    for name in ("b.gguf", "a.gguf", "notes.txt"):
        os.symlink(os.path.abspath(model), os.path.join(d, name))
    open(conf, "w").write("[server]\ndbus = no\nmodels-dir = %s\n[model first]\npath = %s\n" % (d, model))
    p = harness.start_daemon([vkinferd, "--config", conf, "--socket", sock], sock, os.path.join(tmp, "log"))
    try:
        check(models(sock) == ["first", "a", "b"], "models-dir at start: %s" % models(sock))
        os.symlink(os.path.abspath(model), os.path.join(d, "c.gguf"))
        os.unlink(os.path.join(d, "a.gguf"))
        p.send_signal(signal.SIGHUP)
        # The default stays first; a new model may take a freed slot, so the
        # rest is compared as a set.
        for _ in range(200):
            if sorted(models(sock)) == ["b", "c", "first"]:
                break
            time.sleep(0.05)
        got = models(sock)
        check(got[:1] == ["first"] and sorted(got) == ["b", "c", "first"], "models-dir after a reload: %s" % got)
        st, body = vc.request(sock, "POST", "/v1/completions", body={"model": "c", "prompt": "x", "max_tokens": 2})
        check(st == 200, "a model found by the rescan answers: %s %s" % (st, body))
    finally:
        rc = harness.stop_daemon(p)
        check(rc == 0, "clean exit: %s" % rc)
        if harness.failures:
            print(open(os.path.join(tmp, "log")).read()[-3000:], file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)


def no_model(vkinferd, model):
    """A reload whose only model fails to load leaves none: /health says so
    with 503 (it said ok), requests get a clean 503 error, and a reload with
    a good model brings it back."""
    tmp = tempfile.mkdtemp(prefix="vkinferd-no-model-")
    sock, conf = os.path.join(tmp, "s.sock"), os.path.join(tmp, "vkinferd.conf")
    broken = os.path.join(tmp, "broken.gguf")
    open(broken, "wb").write(b"this is not a GGUF file\n" * 4)
    open(conf, "w").write("[server]\ndbus = no\n[model alpha]\npath = %s\n" % model)
    p = harness.start_daemon([vkinferd, "--config", conf, "--socket", sock], sock, os.path.join(tmp, "log"))
    try:
        open(conf, "w").write("[server]\ndbus = no\n[model beta]\npath = %s\n" % broken)
        p.send_signal(signal.SIGHUP)
        for _ in range(200):
            if models(sock) == []:
                break
            time.sleep(0.05)
        check(models(sock) == [], "the broken model is served: %s" % models(sock))
        st, body = vc.request(sock, "GET", "/health")
        check(st == 503 and body.get("status") != "ok" and "no model" in body.get("message", "") and
              body.get("models") == 0, "/health without a model: %s %s" % (st, body))
        chat = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
        for url, body in (("/v1/chat/completions", chat), ("/v1/completions", {"prompt": "x", "max_tokens": 2}),
                          ("/v1/chat/completions", dict(chat, stream=True))):
            st, got = vc.request(sock, "POST", url, body=body)
            err = got.get("error", {}) if isinstance(got, dict) else {}
            check(st == 503 and "no model" in err.get("message", "") and err.get("type") == "server_error",
                  "%s %s without a model: %s %s" % (url, "stream" if body.get("stream") else "", st, got))
        st, body = vc.request(sock, "GET", "/status")
        check(st == 200 and body.get("models") == [], "/status without a model: %s %s" % (st, body))
        check(p.poll() is None, "the daemon died without a model")
        open(conf, "w").write("[server]\ndbus = no\n[model gamma]\npath = %s\n" % model)
        p.send_signal(signal.SIGHUP)
        for _ in range(200):
            if models(sock) == ["gamma"]:
                break
            time.sleep(0.05)
        st, body = vc.request(sock, "GET", "/health")
        check(st == 200 and body.get("status") == "ok", "/health with a model again: %s %s" % (st, body))
        st, body = vc.request(sock, "POST", "/v1/completions", body={"prompt": "x", "max_tokens": 2})
        check(st == 200, "a request after the model came back: %s %s" % (st, body))
    finally:
        rc = harness.stop_daemon(p)
        check(rc == 0, "clean exit: %s" % rc)
        if harness.failures:
            print(open(os.path.join(tmp, "log")).read()[-3000:], file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
