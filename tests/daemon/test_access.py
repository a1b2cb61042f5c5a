#!/usr/bin/env python3
"""Who may use vkinferd: allow-users / allow-groups against the peer's
credentials (SO_PEERCRED, SO_PEERGROUPS), the socket's mode, and the
loopback-only TCP listener. usage: test_access.py VKINFERD MODEL.gguf"""
import http.client
import os
import pwd
import grp
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
from harness import check  # noqa: E402
import harness  # noqa: E402

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run_daemon(vkinferd, model, tmp, conf_text, *extra):
    sock = os.path.join(tmp, "s.sock")
    conf = os.path.join(tmp, "vkinferd.conf")
    open(conf, "w").write("[server]\ndbus = no\n" + conf_text)
    log = open(os.path.join(tmp, "log"), "w")
    p = subprocess.Popen([vkinferd, "--config", conf, "--socket", sock, "--model", model, *extra],
                         stdout=log, stderr=log)
    for _ in range(600):
        if os.path.exists(sock) or p.poll() is not None:
            break
        time.sleep(0.05)
    time.sleep(0.1)
    return p, sock


def peer_status(sock, groups):
    """GET /v1/models from a child process whose supplementary groups are
    groups: the HTTP status."""
    r = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, %r); import vkinfer_client as vc; "
                        "print(vc.request(%r, 'GET', '/v1/models')[0])" % (os.path.dirname(__file__), sock)],
                       capture_output=True, text=True, timeout=30, preexec_fn=lambda: os.setgroups(groups))
    try:
        return int(r.stdout)
    except ValueError:
        return r.stderr


def main():
    vkinferd, model = sys.argv[1], sys.argv[2]
    me = pwd.getpwuid(os.getuid()).pw_name
    my_group = grp.getgrgid(os.getgid()).gr_name
    other = "nobody" if me != "nobody" else "root"
    cases = [
        ("allow-users = %s\n" % other, 403, None),
        ("allow-users = %s %s\n" % (other, me), 200, None),
        ("allow-users = %d\n" % os.getuid(), 200, None),
        ("allow-groups = %s\n" % my_group, 200, None),
        ("allow-groups = nogroup\n" if my_group != "nogroup" else "allow-groups = root\n", 403, None),
        ("socket-mode = 0600\n", 200, None),
    ]
    # The peer's supplementary groups count, as the kernel has them
    # (SO_PEERGROUPS), not only those of the group database: a client that
    # takes a group no one has there (root only) is a member of it.
    free_gid = next(g for g in range(4242, 60000) if g not in [e.gr_gid for e in grp.getgrall()])
    if os.geteuid() == 0:
        cases += [("allow-groups = %d\n" % free_gid, 200, [free_gid]), ("allow-groups = %d\n" % free_gid, 403, None)]
    else:
        print("not root: the supplementary-group cases are skipped", file=sys.stderr)
    for conf, want, groups in cases:
        tmp = tempfile.mkdtemp(prefix="vkinferd-access-")
        p, sock = run_daemon(vkinferd, model, tmp, conf)
        try:
            if groups:
                st = peer_status(sock, groups)
            else:
                st, body = vc.request(sock, "GET", "/v1/models")
            check(st == want, "%r, groups %s: HTTP %s, wanted %s" % (conf.strip(), groups, st, want))
            if "socket-mode" in conf:
                check(stat.S_IMODE(os.stat(sock).st_mode) == 0o600, "socket mode")
            log = open(os.path.join(tmp, "log")).read()
            check("uid %d" % os.getuid() in log, "peer credentials not logged: %s" % log[-500:])
        finally:
            harness.stop_daemon(p)
            shutil.rmtree(tmp, ignore_errors=True)

    # TCP: loopback only, off by default, refused while allow lists are set.
    tmp = tempfile.mkdtemp(prefix="vkinferd-tcp-")
    port = free_port()
    p, sock = run_daemon(vkinferd, model, tmp, "", "--tcp", "127.0.0.1:%d" % port)
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("GET", "/v1/models")
        r = c.getresponse()
        check(r.status == 200 and b'"object":"list"' in r.read(), "TCP listener")
    finally:
        harness.stop_daemon(p)
        shutil.rmtree(tmp, ignore_errors=True)
    tmp = tempfile.mkdtemp(prefix="vkinferd-tcp-")
    p, sock = run_daemon(vkinferd, model, tmp, "allow-users = %s\n" % me, "--tcp", "127.0.0.1:%d" % port)
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("GET", "/v1/models")
        check(c.getresponse().status == 403, "TCP with allow lists")
    finally:
        harness.stop_daemon(p)
        shutil.rmtree(tmp, ignore_errors=True)
    tmp = tempfile.mkdtemp(prefix="vkinferd-tcp-")
    p, sock = run_daemon(vkinferd, model, tmp, "", "--tcp", "192.0.2.1:8080")
    rc = p.wait(timeout=60)
    log = open(os.path.join(tmp, "log")).read()
    check(rc != 0 and "only loopback" in log, "non-loopback TCP refused: %s %s" % (rc, log[-300:]))
    shutil.rmtree(tmp, ignore_errors=True)
    # A TCP port already taken: startup fails with a message that names the
    # address and the reason (the log once printed an uninitialised buffer).
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    tmp = tempfile.mkdtemp(prefix="vkinferd-tcp-")
    p, sock = run_daemon(vkinferd, model, tmp, "", "--tcp", "127.0.0.1:%d" % port)
    rc = p.wait(timeout=60)
    log = open(os.path.join(tmp, "log")).read()
    check(rc != 0 and ("127.0.0.1:%d" % port) in log and "in use" in log.lower(),
          "TCP port in use: %s %s" % (rc, log[-300:]))
    taken.close()
    shutil.rmtree(tmp, ignore_errors=True)
    print("access: %s" % ("ok" if not harness.failures else "%d failed" % harness.failures), file=sys.stderr)
    return 1 if harness.failures else 0


if __name__ == "__main__":
    sys.exit(main())
