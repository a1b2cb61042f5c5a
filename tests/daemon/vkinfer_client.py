"""A client for vkinferd written with Python's standard library only: HTTP
over a Unix socket, plus the server-sent-events reader for streams."""
import http.client
import json
import socket


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


def request(path, method, url, body=None, raw=None, timeout=60):
    """Returns (status, parsed JSON or text)."""
    c = UnixHTTPConnection(path, timeout)
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    headers = {"Content-Type": "application/json"} if data is not None else {}
    try:
        c.request(method, url, body=data, headers=headers)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered early (413) and closed: read its answer
    r = c.getresponse()
    text = r.read().decode("utf-8", "replace")
    c.close()
    try:
        return r.status, json.loads(text)
    except ValueError:
        return r.status, text


def stream(path, url, body, timeout=120):
    """Yields each SSE event's JSON (or the string "[DONE]")."""
    c = UnixHTTPConnection(path, timeout)
    c.request("POST", url, body=json.dumps(dict(body, stream=True)).encode(),
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    if r.status != 200:
        raise RuntimeError("HTTP %d: %s" % (r.status, r.read()))
    for line in r:
        line = line.decode().rstrip("\r\n")
        if not line.startswith("data: "):
            continue
        payload = line[6:]
        if payload == "[DONE]":
            yield "[DONE]"
            break
        yield json.loads(payload)
    c.close()


def raw_exchange(path, data, timeout=10):
    """Sends raw bytes, returns whatever comes back until the server closes."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    s.sendall(data)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        pass
    s.close()
    return out
