"""What the daemon tests share: counting failed checks, and starting and
stopping a vkinferd."""
import os
import signal
import socket
import subprocess
import sys
import time

failures = 0


def check(cond, what):
    """Records a failed check (the test goes on, and fails at the end)."""
    global failures
    if not cond:
        failures += 1
        print("check failed:", what, file=sys.stderr)


def wait_for_socket(p, sock, timeout=60):
    """Waits until vkinferd accepts connections on sock (or has exited)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout and p.poll() is None:
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(sock)
            s.close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def start_daemon(argv, sock, log_path, env=None):
    """Starts vkinferd with argv (its log to log_path) and waits for sock."""
    log = open(log_path, "a")
    p = subprocess.Popen(argv, stdout=log, stderr=log, env=env)
    wait_for_socket(p, sock)
    return p


def stop_daemon(p, timeout=60):
    """SIGTERM, then the exit status (-1 if it had to be killed)."""
    if p.poll() is not None:
        return p.returncode
    p.send_signal(signal.SIGTERM)
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        return -1


def finish(name, log_path=None):
    """Prints the verdict (and the daemon's log on failure); the exit code."""
    if failures and log_path and os.path.exists(log_path):
        print(open(log_path).read()[-4000:], file=sys.stderr)
    print("%s: %s" % (name, "ok" if not failures else "%d failed" % failures), file=sys.stderr)
    return 1 if failures else 0
