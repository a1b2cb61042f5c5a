#!/usr/bin/env python3
"""Drives org.vkinfer.Inference1 with busctl and gdbus on a private session
bus (re-runs itself under dbus-run-session): properties, ListModels,
introspection, and named errors for bad calls.

usage: test_dbus.py VKINFERD MODEL.gguf"""
import grp
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import check  # noqa: E402
import vkinfer_client as vc  # noqa: E402
import harness  # noqa: E402

DEST = ["org.vkinfer.Inference1", "/org/vkinfer/Inference1", "org.vkinfer.Inference1"]


def busctl(*args):
    r = subprocess.run(["busctl", "--user", *args], capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout.strip(), r.stderr.strip()


def wait_for(path, needle, timeout=60):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        text = open(path).read()
        if needle in text:
            return text
        time.sleep(0.05)
    return open(path).read()


def chat_signals(tmp):
    """A Chat streams Delta signals that gdbus monitor shows, then Finished;
    Cancel ends a long request with Finished('cancelled')."""
    if not shutil.which("gdbus"):
        check(False, "gdbus is missing (Debian: libglib2.0-bin): the Delta signals are not checked")
        return
    mon_path = os.path.join(tmp, "monitor")
    mon = subprocess.Popen(["gdbus", "monitor", "--session", "--dest", DEST[0]], stdout=open(mon_path, "w"),
                           stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)  # let the monitor subscribe
        rc, out, err = busctl("call", *DEST, "Chat", "a(ss)a{sv}", "1", "user", "Hello", "2",
                              "max_tokens", "u", "8", "seed", "t", "3")
        check(rc == 0 and out.startswith('o "/org/vkinfer/Inference1/request/'), "Chat: %s %s" % (out, err))
        req = out.split('"')[1] if rc == 0 else ""
        text = wait_for(mon_path, req + ": org.vkinfer.Inference1.Request.Finished")
        check(req + ": org.vkinfer.Inference1.Request.Delta" in text, "no Delta signal:\n%s" % text)
        check(req + ": org.vkinfer.Inference1.Request.Finished ('length'" in text or
              req + ": org.vkinfer.Inference1.Request.Finished ('stop'" in text, "no Finished signal:\n%s" % text)

        rc, out, err = busctl("call", *DEST, "Complete", "sa{sv}", "the", "2", "max_tokens", "u", "3000",
                              "ignore_eos", "b", "true")
        req2 = out.split('"')[1] if rc == 0 else ""
        wait_for(mon_path, req2 + ": org.vkinfer.Inference1.Request.Delta")
        rc, out, err = busctl("call", DEST[0], req2, "org.vkinfer.Inference1.Request", "Cancel")
        check(rc == 0, "Cancel: %s" % err)
        text = wait_for(mon_path, req2 + ": org.vkinfer.Inference1.Request.Finished")
        check(req2 + ": org.vkinfer.Inference1.Request.Finished ('cancelled'" in text, "cancel:\n%s" % text[-2000:])

        # With cancel_on_disconnect, busctl leaving the bus cancels at once.
        rc, out, err = busctl("call", *DEST, "Complete", "sa{sv}", "the", "3", "max_tokens", "u", "3000",
                              "cancel_on_disconnect", "b", "true", "ignore_eos", "b", "true")
        req3 = out.split('"')[1] if rc == 0 else ""
        text = wait_for(mon_path, req3 + ": org.vkinfer.Inference1.Request.Finished")
        check(req3 + ": org.vkinfer.Inference1.Request.Finished ('cancelled'" in text, "disconnect:\n%s" % text[-2000:])
        # The caller's leaving is handled once (the handler used to run at
        # every loop iteration until the request ended, thousands of times).
        time.sleep(0.3)
        n = open(os.path.join(tmp, "log")).read().count(req3 + ": caller left the bus")
        check(n == 1, "the caller's leaving was handled %d times" % n)
    finally:
        mon.terminate()
        mon.wait()


def bad_options():
    """Seeds out of range (once a UBSan abort: a double of 1e300 or a uint64
    past INT64_MAX converted as is) and repeated keys (the first model name
    leaked) are refused with InvalidArgument; the daemon stays up. The
    rules are the HTTP API's (test_daemon_api.py's shared_validation): seed
    -1 is a random seed, role developer is system, an empty stop string is
    refused (D-Bus once differed on all three)."""
    for sig, value in (("d", "1e300"), ("t", "18446744073709551615"), ("t", "9223372036854775808"),
                       ("d", "9.3e18"), ("x", "-2"), ("i", "-2"), ("d", "-1.5"), ("d", "2.5"), ("d", "nan"),
                       ("d", "inf")):
        rc, out, err = busctl("call", "--", *DEST, "Complete", "sa{sv}", "x", "2", "seed", sig, value,
                              "max_tokens", "u", "1")
        check(rc != 0 and "seed" in err and "from 0 to 9223372036854775807" in err, "seed %s %s: %s %s" % (sig, value, out, err))
    rc, out, err = busctl("call", *DEST, "Complete", "sa{sv}", "x", "2", "seed", "t", "9223372036854775807",
                          "max_tokens", "u", "1")
    check(rc == 0, "the largest seed: %s" % err)
    for sig in ("x", "i", "d"):
        rc, out, err = busctl("call", "--", *DEST, "Complete", "sa{sv}", "x", "2", "seed", sig, "-1", "max_tokens", "u",
                              "1")
        check(rc == 0, "seed %s -1 (a random seed): %s" % (sig, err))
    for what, strv, needle in (("an empty stop", ["1", ""], "non-empty"), ("an empty stop in a list", ["2", "a", ""],
                                                                           "non-empty"),
                               ("17 stops", ["17"] + ["s%d" % i for i in range(17)], "at most 16")):
        rc, out, err = busctl("call", *DEST, "Complete", "sa{sv}", "x", "2", "stop", "as", *strv, "max_tokens", "u", "1")
        check(rc != 0 and needle in err, "%s: %s %s" % (what, out, err))
    rc, out, err = busctl("call", *DEST, "Chat", "a(ss)a{sv}", "2", "developer", "Be brief", "user", "hi", "1",
                          "max_tokens", "u", "1")
    check(rc == 0, "role developer: %s %s" % (out, err))
    rc, out, err = busctl("call", *DEST, "Chat", "a(ss)a{sv}", "1", "tool", "x", "1", "max_tokens", "u", "1")
    check(rc != 0 and "not supported" in err, "role tool: %s %s" % (out, err))
    for key, sig, a, b in (("model", "s", "chat-tiny", "chat-tiny"), ("max_tokens", "u", "1", "2"),
                           ("seed", "t", "1", "1"), ("ignore_eos", "b", "true", "true")):
        rc, out, err = busctl("call", *DEST, "Complete", "sa{sv}", "x", "3", key, sig, a, key, sig, b,
                              "max_tokens" if key != "max_tokens" else "top_k", "u", "1")
        check(rc != 0 and ("'%s' is given twice" % key) in err, "%s given twice: %s %s" % (key, out, err))


def start_conf(vkinferd, conf_text, *extra):
    """A user instance with the configuration conf_text, once it owns the
    name: (process, tmp folder, socket, log path)."""
    tmp = tempfile.mkdtemp(prefix="vkinferd-dbus-")
    conf, logpath = os.path.join(tmp, "vkinferd.conf"), os.path.join(tmp, "log")
    open(conf, "w").write(conf_text)
    p = subprocess.Popen([vkinferd, "--user", "--config", conf, *extra], env=dict(os.environ, XDG_RUNTIME_DIR=tmp),
                         stdout=open(logpath, "w"), stderr=subprocess.STDOUT)
    for _ in range(400):
        if busctl("status", DEST[0])[0] == 0 or p.poll() is not None:
            break
        time.sleep(0.05)
    return p, tmp, os.path.join(tmp, "vkinfer", "vkinfer.sock"), logpath


def stop_conf(p, tmp, logpath):
    rc = harness.stop_daemon(p)
    check(rc == 0, "clean exit: %s" % rc)
    if harness.failures:
        print(open(logpath).read()[-3000:], file=sys.stderr)
    shutil.rmtree(tmp, ignore_errors=True)


def prompt_limit(vkinferd, model):
    """max-body limits a prompt over D-Bus as over HTTP (D-Bus took 30 MB,
    HTTP 1 MiB): past it, the call fails with TooLarge and says why."""
    p, tmp, sock, logpath = start_conf(vkinferd, "[server]\nmax-body = 1024\n[model tiny]\npath = %s\n" % model)
    try:
        rc, out, err = busctl("call", *DEST, "Complete", "sa{sv}", "x" * 2000, "1", "max_tokens", "u", "1")
        check(rc != 0 and "2000 bytes" in err and "max-body (1024)" in err, "a long prompt: %s %s" % (out, err))
        rc, out, err = busctl("call", *DEST, "Chat", "a(ss)a{sv}", "2", "system", "s" * 600, "user", "u" * 600, "1",
                              "max_tokens", "u", "1")
        check(rc != 0 and "1200 bytes" in err and "max-body" in err, "long messages: %s %s" % (out, err))
        if shutil.which("gdbus"):
            r = subprocess.run(["gdbus", "call", "--session", "--dest", DEST[0], "--object-path", DEST[1],
                                "--method", DEST[2] + ".Complete", "x" * 2000, "{}"],
                               capture_output=True, text=True, timeout=30)
            check("org.vkinfer.Error.TooLarge" in r.stderr, "error name: %s" % r.stderr)
        rc, out, err = busctl("call", *DEST, "Complete", "sa{sv}", "x" * 900, "1", "max_tokens", "u", "1")
        check(rc == 0, "a prompt within max-body: %s" % err)
        st, body = vc.request(sock, "POST", "/v1/completions", body={"prompt": "x" * 2000, "max_tokens": 1})
        check(st == 413, "the same prompt over HTTP: %s %s" % (st, body))
        check(p.poll() is None, "the daemon died")
    finally:
        stop_conf(p, tmp, logpath)


def no_model(vkinferd, model):
    """After a reload whose model fails to load there is no model: a Chat or
    Complete without one is refused with Unavailable (Chat dereferenced a
    NULL model and the daemon died)."""
    p, tmp, sock, logpath = start_conf(vkinferd, "[model alpha]\npath = %s\n" % model)
    try:
        broken = os.path.join(tmp, "broken.gguf")
        open(broken, "wb").write(b"not a GGUF file\n" * 4)
        open(os.path.join(tmp, "vkinferd.conf"), "w").write("[model beta]\npath = %s\n" % broken)
        p.send_signal(signal.SIGHUP)
        for _ in range(200):
            if busctl("get-property", *DEST, "Models")[1] == "as 0":
                break
            time.sleep(0.05)
        rc, out, err = busctl("get-property", *DEST, "Models")
        check(out == "as 0", "models after the failed reload: %s %s" % (out, err))
        rc, out, err = busctl("call", *DEST, "Chat", "a(ss)a{sv}", "1", "user", "hi", "0")
        check(rc != 0 and "no model" in err, "Chat without a model: %s %s" % (out, err))
        rc, out, err = busctl("call", *DEST, "Complete", "sa{sv}", "x", "0")
        check(rc != 0 and "no model" in err, "Complete without a model: %s %s" % (out, err))
        if shutil.which("gdbus"):
            r = subprocess.run(["gdbus", "call", "--session", "--dest", DEST[0], "--object-path", DEST[1],
                                "--method", DEST[2] + ".Chat", "[('user', 'hi')]", "{}"],
                               capture_output=True, text=True, timeout=30)
            check("org.vkinfer.Error.Unavailable" in r.stderr, "error name without a model: %s" % r.stderr)
        check(p.poll() is None, "the daemon died on a call without a model")
    finally:
        stop_conf(p, tmp, logpath)


def access_lists(vkinferd, model):
    """allow-users / allow-groups govern D-Bus callers as they do socket
    peers (root was refused on the socket and accepted over the bus), and a
    caller's supplementary groups count (test_access.py: the socket's)."""
    me = pwd.getpwuid(os.getuid()).pw_name
    other = "nobody" if me != "nobody" else "root"
    # A group that no one has in the group database, for a process that
    # takes it as a supplementary group (needs root).
    free_gid = next(g for g in range(4242, 60000) if g not in [e.gr_gid for e in grp.getgrall()])
    can_setgroups = os.geteuid() == 0
    if not can_setgroups:
        print("not root: the supplementary-group cases are skipped", file=sys.stderr)
    cases = [("allow-users = %s\n" % other, None, False), ("allow-users = %s\n" % me, None, True),
             ("allow-groups = %d\n" % free_gid, None, False)]
    if can_setgroups:
        cases.append(("allow-groups = %d\n" % free_gid, [free_gid], True))
    for conf, groups, allowed in cases:
        p, tmp, sock, logpath = start_conf(vkinferd, "[server]\n" + conf, "--model", model)
        try:
            pre = (lambda: os.setgroups(groups)) if groups else None
            for what, args in (("Chat", ("call", *DEST, "Chat", "a(ss)a{sv}", "1", "user", "hi", "1",
                                         "max_tokens", "u", "1")),
                               ("Complete", ("call", *DEST, "Complete", "sa{sv}", "x", "1", "max_tokens", "u", "1")),
                               ("ListModels", ("call", *DEST, "ListModels"))):
                r = subprocess.run(["busctl", "--user", *args], capture_output=True, text=True, timeout=30,
                                   preexec_fn=pre)
                if allowed:
                    check(r.returncode == 0, "%r, groups %s: %s refused: %s" % (conf.strip(), groups, what, r.stderr))
                else:
                    # busctl shows AccessDenied as "Access denied"
                    check(r.returncode != 0 and "ccess denied" in r.stderr,
                          "%r, groups %s: %s allowed: %s %s" % (conf.strip(), groups, what, r.stdout, r.stderr))
            if not allowed and shutil.which("gdbus"):
                r = subprocess.run(["gdbus", "call", "--session", "--dest", DEST[0], "--object-path", DEST[1],
                                    "--method", DEST[2] + ".ListModels"], capture_output=True, text=True, timeout=30)
                check("org.freedesktop.DBus.Error.AccessDenied" in r.stderr and "allow-users / allow-groups" in r.stderr,
                      "error name and message: %s" % r.stderr)
        finally:
            stop_conf(p, tmp, logpath)


def drain_timeout(vkinferd, model):
    """SIGTERM with a request that outlasts drain-timeout: it still gets its
    Finished signal, reason error, saying why (it used to get nothing), and
    the log counts it among the requests in flight."""
    if not shutil.which("gdbus"):
        return
    p, tmp, sock, logpath = start_conf(vkinferd, "[scheduler]\ndrain-timeout = 1\n", "--model", model)
    mon_path = os.path.join(tmp, "monitor")
    mon = subprocess.Popen(["gdbus", "monitor", "--session", "--dest", DEST[0]], stdout=open(mon_path, "w"),
                           stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        rc, out, err = busctl("call", *DEST, "Complete", "sa{sv}", "the", "2", "max_tokens", "u", "3000",
                              "ignore_eos", "b", "true")
        req = out.split('"')[1] if rc == 0 else "?"
        wait_for(mon_path, req + ": org.vkinfer.Inference1.Request.Delta")
        p.send_signal(signal.SIGTERM)
        text = wait_for(mon_path, req + ": org.vkinfer.Inference1.Request.Finished", timeout=30)
        fin = text[text.find(req + ": org.vkinfer.Inference1.Request.Finished"):][:400]
        check("Finished ('error'" in fin and "shutting down" in fin, "Finished after the drain timeout: %r" % fin)
        rc = p.wait(timeout=60)
        check(rc == 0, "exit status after the drain timeout: %s" % rc)
        log = open(logpath).read()
        check("stopping: 1 request(s) in flight" in log and "0 HTTP, 1 D-Bus" in log,
              "the log counts D-Bus requests: %s" % log[-1000:])
    finally:
        mon.terminate()
        mon.wait()
        stop_conf(p, tmp, logpath)


def main():
    if "VKINFER_UNDER_DBUS" not in os.environ:
        if not shutil.which("dbus-run-session") or not shutil.which("busctl"):
            print("dbus-run-session or busctl missing", file=sys.stderr)
            return 77
        env = dict(os.environ, VKINFER_UNDER_DBUS="1")
        return subprocess.call(["dbus-run-session", "--", sys.executable, *sys.argv], env=env)
    vkinferd, model = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="vkinferd-dbus-")
    env = dict(os.environ, XDG_RUNTIME_DIR=tmp)
    logpath = os.path.join(tmp, "log")
    log = open(logpath, "w")
    p = subprocess.Popen([vkinferd, "--user", "--model", model], env=env, stdout=log, stderr=log)
    try:
        for _ in range(400):
            rc, out, _ = busctl("status", "org.vkinfer.Inference1")
            if rc == 0:
                break
            time.sleep(0.05)
        check(os.path.exists(os.path.join(tmp, "vkinfer", "vkinfer.sock")), "user socket in XDG_RUNTIME_DIR")
        name = os.path.basename(model)[:-5]
        rc, out, err = busctl("get-property", *DEST, "Version")
        check(rc == 0 and out.startswith('s "'), "Version: %s %s" % (out, err))
        rc, out, err = busctl("get-property", *DEST, "Models")
        check(rc == 0 and out == 'as 1 "%s"' % name, "Models: %s %s" % (out, err))
        for prop, sig in (("QueueLength", "u"), ("ActiveRequests", "u"), ("Device", "s")):
            rc, out, err = busctl("get-property", *DEST, prop)
            check(rc == 0 and out.startswith(sig + " "), "%s: %s %s" % (prop, out, err))
        rc, out, err = busctl("call", *DEST, "ListModels")
        check(rc == 0 and out.startswith('a(sssut) 1 "%s"' % name), "ListModels: %s %s" % (out, err))
        rc, out, err = busctl("introspect", *DEST)
        check(rc == 0 and ".Chat" in out and ".Complete" in out, "introspect: %s" % out)

        rc, out, err = busctl("call", *DEST, "Chat", "a(ss)a{sv}", "1", "user", "hi", "1", "model", "s", "nope")
        check(rc != 0 and "does not exist" in err, "unknown model: %s" % err)
        rc, out, err = busctl("call", *DEST, "Chat", "a(ss)a{sv}", "1", "wizard", "hi", "0")
        check(rc != 0 and "role" in err, "bad role: %s" % err)
        rc, out, err = busctl("call", *DEST, "Chat", "a(ss)a{sv}", "0", "0")
        check(rc != 0 and "no messages" in err, "no messages: %s" % err)
        rc, out, err = busctl("call", *DEST, "Complete", "sa{sv}", "x", "1", "temperature", "d", "9")
        check(rc != 0 and "temperature" in err, "bad option: %s" % err)
        rc, out, err = busctl("call", *DEST, "Complete", "sa{sv}", "x", "1", "colour", "s", "red")
        check(rc != 0 and "colour" in err, "unknown option: %s" % err)
        # The same ranges as the HTTP API (daemon/params.c), with the same words.
        sock = os.path.join(tmp, "vkinfer", "vkinfer.sock")
        for key, sig, value, jvalue, words in (("repeat_penalty", "d", "0.005", 0.005, "between 0.01 and 10"),
                                               ("top_k", "u", "2000000", 2000000, "between 0 and 1048576"),
                                               ("top_p", "d", "0", 0, "greater than 0"),
                                               ("max_tokens", "d", "2.5", 2.5, "integer")):
            rc, out, err = busctl("call", *DEST, "Complete", "sa{sv}", "x", "1", key, sig, value)
            check(rc != 0 and words in err and "InvalidArgument" not in out, "D-Bus %s=%s: %s" % (key, value, err))
            st, body = vc.request(sock, "POST", "/v1/completions", body={"prompt": "x", key: jvalue})
            msg = body.get("error", {}).get("message", "") if isinstance(body, dict) else ""
            check(st == 400 and words in msg, "HTTP %s=%s: %s %s" % (key, value, st, body))
        if shutil.which("gdbus"):  # gdbus shows the D-Bus error names
            r = subprocess.run(["gdbus", "call", "--session", "--dest", DEST[0], "--object-path", DEST[1],
                                "--method", DEST[2] + ".Chat", "[('user', 'hi')]", "{'model': <'nope'>}"],
                               capture_output=True, text=True, timeout=30)
            check("org.vkinfer.Error.UnknownModel" in r.stderr, "error name: %s" % r.stderr)
        chat_signals(tmp)
        bad_options()
        check(p.poll() is None, "daemon still running")
    finally:
        rc = harness.stop_daemon(p)
        check(rc == 0, "clean exit: %s" % rc)
        if harness.failures:
            print(open(logpath).read(), file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)
    no_model(vkinferd, model)
    prompt_limit(vkinferd, model)
    access_lists(vkinferd, model)
    drain_timeout(vkinferd, model)
    print("dbus: %s" % ("ok" if not harness.failures else "%d failed" % harness.failures), file=sys.stderr)
    return 1 if harness.failures else 0


if __name__ == "__main__":
    sys.exit(main())
