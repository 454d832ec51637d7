#!/usr/bin/env python3
"""http_attack.py: the attacker's side of attack.test, with nothing but the
Python standard library: raw HTTPS requests from a chosen loopback source
address, Digest (RFC 7616, SHA-256) computed here, and slow or idle
connections. It prints what came back; attack.test decides what is right.

  http_attack.py --ca CERT --port P [--src ADDR] digest USER PASSWORD PATH [N]
      N requests (default 1) on one connection, each answering the
      previous challenge; prints each status. "{i}" in USER becomes the
      request's number; \\xNN escapes in USER are raw bytes.
  http_attack.py --ca CERT --port P names USER N
      N made-up user names whose unkeyed FNV-1a hash ("user:NAME" mod 4096,
      the lock-out table before issue 13) falls in the 16 slots up to
      USER's: the names that evicted a live lock then.
  http_attack.py --ca CERT --port P [--src ADDR] hold N SECONDS
      opens N TLS connections at once and keeps them idle for SECONDS;
      prints how many got through the TLS handshake.
  http_attack.py --ca CERT --port P authint USER PASSWORD PATH BODY OTHER
      PUT PATH with qop=auth-int, its response computed for BODY: first
      sent with OTHER as the body (a captured header on a new body), then
      with BODY; prints both statuses.
  http_attack.py --ca CERT --port P [--src ADDR] raw
      sends stdin as it is; prints the whole answer.
  http_attack.py --ca CERT --port P [--src ADDR] idle [--after-request]
      connects (and with --after-request sends one request), then sends
      nothing; prints how many whole seconds until the server closed, or
      "open" after 60 s.
"""
import argparse
import hashlib
import os
import re
import socket
import ssl
import sys
import time


def connect(a):
    ctx = ssl.create_default_context(cafile=a.ca)
    ctx.check_hostname = False
    raw = socket.create_connection(("127.0.0.1", a.port), timeout=70,
                                   source_address=(a.src, 0) if a.src else None)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def read_answer(s):
    """One HTTP answer: (status, headers text, body bytes)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            return 0, buf.decode("latin-1"), b""
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    head = head.decode("latin-1")
    m = re.search(r"(?im)^content-length:\s*(\d+)", head)
    want = int(m.group(1)) if m else 0
    while len(body) < want:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(head.split(" ", 2)[1]), head, body


def h(text):
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def digest(a):
    s = connect(a)
    user = a.user.encode("utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8", "surrogateescape")
    auth = None
    nonce = None
    base = user
    for i in range(a.n + 1):
        req = "GET %s HTTP/1.1\r\nHost: localhost\r\n" % a.path
        user = base.replace("{i}", str(i))
        if nonce is not None:
            nc = "%08x" % i
            ha1 = h("%s:%s:%s" % (user, a.realm, a.password))
            resp = h("%s:%s:%s:c0ffee:auth:%s" % (ha1, nonce, nc, h("GET:" + a.path)))
            auth = ('Digest username="%s", realm="%s", nonce="%s", uri="%s", algorithm=SHA-256, '
                    'qop=auth, nc=%s, cnonce="c0ffee", response="%s"' % (user, a.realm, nonce, a.path, nc, resp))
            req += "Authorization: %s\r\n" % auth
        s.sendall((req + "\r\n").encode("utf-8", "surrogateescape"))
        status, head, _ = read_answer(s)
        if nonce is not None:
            print(status, flush=True)
        m = re.search(r'(?i)www-authenticate: Digest realm="[^"]*", qop="[^"]*", algorithm=SHA-256, nonce="([0-9a-f]+)"', head)
        # A new nonce only when the server says ours is stale.
        if m and (nonce is None or "stale=true" in m.group(0) + head.split(m.group(0), 1)[1].split("\r\n", 1)[0]):
            nonce = m.group(1)
        if status == 0:
            print("closed")
            return


def raw(a):
    s = connect(a)
    out = b""
    try:
        s.sendall(sys.stdin.buffer.read())
    except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
        pass  # the server may answer and close before reading it all
    s.settimeout(10)
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
            if b"\r\n\r\n" in out and re.search(rb"(?i)content-length: *(\d+)", out):
                head, body = out.split(b"\r\n\r\n", 1)
                if len(body) >= int(re.search(rb"(?i)content-length: *(\d+)", head).group(1)):
                    break
    except (socket.timeout, ssl.SSLError, ConnectionResetError):
        pass
    sys.stdout.buffer.write(out)


def idle(a):
    s = connect(a)
    if a.after_request:
        s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        read_answer(s)
    t0 = time.monotonic()
    s.settimeout(60)
    try:
        while s.recv(4096):
            pass
        print(int(time.monotonic() - t0))
    except socket.timeout:
        print("open")
    except (ssl.SSLError, ConnectionResetError):
        print(int(time.monotonic() - t0))


def hold(a):
    held = []
    for _ in range(a.n):
        try:
            held.append(connect(a))
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError, OSError):
            pass
    print(len(held), flush=True)
    time.sleep(a.seconds)
    for s in held:
        s.close()


def authint(a):
    s = connect(a)
    body = a.body.encode()

    def put(b, auth=None):
        req = ("PUT %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
               "Content-Length: %d\r\n" % (a.path, len(b)))
        if auth:
            req += "Authorization: %s\r\n" % auth
        s.sendall(req.encode() + b"\r\n" + b)
        return read_answer(s)

    _, head, _ = put(body)
    nonce = re.search(r'algorithm=SHA-256, nonce="([0-9a-f]+)"', head).group(1)
    ha1 = h("%s:%s:%s" % (a.user, a.realm, a.password))
    ha2 = h("PUT:%s:%s" % (a.path, hashlib.sha256(body).hexdigest()))
    resp = h("%s:%s:00000001:c0ffee:auth-int:%s" % (ha1, nonce, ha2))
    auth = ('Digest username="%s", realm="%s", nonce="%s", uri="%s", algorithm=SHA-256, qop=auth-int, '
            'nc=00000001, cnonce="c0ffee", response="%s"' % (a.user, a.realm, nonce, a.path, resp))
    print(put(a.other.encode(), auth)[0], put(body, auth)[0])


def fnv(text):
    x = 2166136261
    for b in text.encode():
        x = ((x ^ b) * 16777619) & 0xFFFFFFFF
    return x


def names(a):
    home = fnv("user:" + a.user) % 4096
    i = found = 0
    while found < a.n:
        name = "x%d" % i
        i += 1
        if (home - fnv("user:" + name) % 4096) % 4096 < 16:
            print(name)
            found += 1


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ca", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--src")
    p.add_argument("--realm", default="nvr")
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("digest")
    d.add_argument("user")
    d.add_argument("password")
    d.add_argument("path")
    d.add_argument("n", type=int, nargs="?", default=1)
    nm = sub.add_parser("names")
    nm.add_argument("user")
    nm.add_argument("n", type=int)
    hd = sub.add_parser("hold")
    hd.add_argument("n", type=int)
    hd.add_argument("seconds", type=float)
    ai = sub.add_parser("authint")
    for x in ("user", "password", "path", "body", "other"):
        ai.add_argument(x)
    sub.add_parser("raw")
    i = sub.add_parser("idle")
    i.add_argument("--after-request", action="store_true")
    a = p.parse_args()
    {"digest": digest, "raw": raw, "idle": idle, "names": names, "hold": hold, "authint": authint}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
