#!/usr/bin/env python3
"""A lost device (simulated: VKINFER_TEST_DEVICE_LOST=N makes the Nth Vulkan
step fail as VK_ERROR_DEVICE_LOST does) ends the streams running on it with
an error event, the daemon stays up, and the next request opens the device
again and gives exactly the text it gave before the loss.

usage: test_device_lost.py VKINFERD MODEL.gguf"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import vkinfer_client as vc  # noqa: E402
from harness import check  # noqa: E402
import harness  # noqa: E402

SEEDED = {"prompt": "In the beginning", "max_tokens": 12, "seed": 7, "temperature": 0.8, "ignore_eos": True}


def complete(sock):
    st, body = vc.request(sock, "POST", "/v1/completions", body=SEEDED)
    return st, body["choices"][0]["text"] if st == 200 else body


def main():
    vkinferd, model = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="vkinferd-lost-")
    sock, log = os.path.join(tmp, "s.sock"), os.path.join(tmp, "log")
    # One step for the prompt and 11 for the other tokens of the first
    # request; the loss comes a few steps into the long one after it.
    env = dict(os.environ, VKINFER_TEST_DEVICE_LOST="16")
    # An f32 cache here (the other daemon tests run the default, f16 on
    # lavapipe): /status says which, before and after the device is reopened.
    p = harness.start_daemon([vkinferd, "--no-dbus", "--socket", sock, "--model", model, "--kv-cache-type", "f32"],
                             sock, log, env=env)
    try:
        st, before = complete(sock)
        check(st == 200, "first request: %s %s" % (st, before))
        st, body = vc.request(sock, "GET", "/status")
        check(st == 200 and body["models"][0]["kv_cache_type"] == "f32", "/status before: %s %s" % (st, body))

        events, error = [], None
        for ev in vc.stream(sock, "/v1/completions", {"prompt": "x", "max_tokens": 40, "ignore_eos": True}):
            if ev == "[DONE]":
                break
            if "error" in ev:
                error = ev["error"]
                break
            events.append(ev)
        check(error is not None, "the stream on the lost device ended without an error event")
        check(error and "device was lost" in error.get("message", ""), "error event: %s" % error)
        check(error and error.get("type") == "server_error", "error shape: %s" % error)
        check(0 < len(events) < 40, "tokens before the loss: %d" % len(events))

        check(p.poll() is None, "vkinferd exited after the lost device")
        st, body = vc.request(sock, "GET", "/health")
        check(st == 200, "/health after the loss: %s %s" % (st, body))
        st, after = complete(sock)
        check(st == 200, "request after the loss: %s %s" % (st, after))
        check(after == before, "text after reopening differs: %r vs %r" % (after, before))
        st, body = vc.request(sock, "GET", "/status")
        check(st == 200 and body["models"][0]["kv_cache_type"] == "f32", "/status: %s %s" % (st, body))
    finally:
        rc = harness.stop_daemon(p)
        check(rc == 0, "clean exit: %s" % rc)
        code = harness.finish("test_device_lost", log)
        shutil.rmtree(tmp, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
