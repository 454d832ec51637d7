#!/usr/bin/env python3
"""slowloris.py: an admitted client's health requests while 1,000 slow or
idle connections press on nvrd's API. Run by bench/slowloris.sh, which
starts PostgreSQL and nvrd; this prints figures, it asserts nothing.

Each probe is what a REST client that does not keep connections open
pays: a new TCP connection, the TLS handshake, a GET /api/v1/health that
gets 401 with a Digest challenge and the same request answered 200. The
probes run first without load (the reference), then under it:
  - refused: connections from addresses [web] allow refuses, each opened
    again as soon as it is closed;
  - slow: connections from admitted addresses that send a request line,
    then a header line every 2 s and never finish;
  - idle: connections from admitted addresses that never start TLS.
"""
import argparse
import asyncio
import hashlib
import multiprocessing
import re
import ssl
import statistics
import time


def ctx_for(ca):
    c = ssl.create_default_context(cafile=ca)
    c.check_hostname = False
    return c


async def probe(a, ctx):
    """Seconds for one health request on a new connection, or None."""
    t0 = time.monotonic()
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection(
            "127.0.0.1", a.port, ssl=ctx, server_hostname="localhost", local_addr=("127.0.0.1", 0)), 30)
        req = "GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n"
        w.write(req.encode())
        head = (await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 30)).decode("latin-1")
        n = int(re.search(r"(?i)content-length: *(\d+)", head).group(1))
        await r.readexactly(n)
        nonce = re.search(r'algorithm=SHA-256, nonce="([0-9a-f]+)"', head).group(1)
        h = lambda s: hashlib.sha256(s.encode()).hexdigest()
        ha1 = h("%s:nvr:%s" % (a.user, a.password))
        resp = h("%s:%s:00000001:b0:auth:%s" % (ha1, nonce, h("GET:/api/v1/health")))
        w.write((req[:-2] + 'Authorization: Digest username="%s", realm="nvr", nonce="%s", uri="/api/v1/health", '
                 'algorithm=SHA-256, qop=auth, nc=00000001, cnonce="b0", response="%s"\r\n\r\n'
                 % (a.user, nonce, resp)).encode())
        head = (await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 30)).decode("latin-1")
        w.close()
        if " 200 " not in head.split("\r\n", 1)[0] + " ":
            return None
        return time.monotonic() - t0
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ssl.SSLError, AttributeError):
        return None


async def probes(a, ctx, n):
    out = []
    for _ in range(n):
        out.append(await probe(a, ctx))
        await asyncio.sleep(a.gap)
    return out


async def refused(a, ctx, src, stop):
    while not stop.is_set():
        try:
            _, w = await asyncio.wait_for(asyncio.open_connection(
                "127.0.0.1", a.port, ssl=ctx, server_hostname="localhost", local_addr=(src, 0)), 10)
            w.close()
        except (OSError, asyncio.TimeoutError, ssl.SSLError):
            pass
        await asyncio.sleep(0.05)


async def slow(a, ctx, src, stop):
    while not stop.is_set():
        try:
            r, w = await asyncio.wait_for(asyncio.open_connection(
                "127.0.0.1", a.port, ssl=ctx, server_hostname="localhost", local_addr=(src, 0)), 10)
            w.write(b"GET /api/v1/health HTTP/1.1\r\n")
            i = 0
            while not stop.is_set() and not r.at_eof():
                w.write(b"X-Slow-%d: 1\r\n" % i)
                await w.drain()
                i += 1
                await asyncio.sleep(2)
            w.close()
        except (OSError, asyncio.TimeoutError, ssl.SSLError, ConnectionError):
            await asyncio.sleep(0.2)


async def idle(a, src, stop):
    while not stop.is_set():
        try:
            r, w = await asyncio.open_connection("127.0.0.1", a.port, local_addr=(src, 0))
            while not stop.is_set() and not r.at_eof():
                try:
                    await asyncio.wait_for(r.read(1), 1)
                except asyncio.TimeoutError:
                    pass
            w.close()
        except (OSError, ConnectionError):
            await asyncio.sleep(0.2)


async def load_main(a):
    ctx = ctx_for(a.ca)
    stop = asyncio.Event()
    tasks = []
    for i in range(a.refused):
        tasks.append(asyncio.create_task(refused(a, ctx, "127.200.%d.%d" % (i // 200, 1 + i % 50), stop)))
    for i in range(a.slow):
        tasks.append(asyncio.create_task(slow(a, ctx, "127.0.1.%d" % (1 + i % a.slow_addresses), stop)))
    for i in range(a.idle):
        tasks.append(asyncio.create_task(idle(a, "127.0.2.%d" % (1 + i % a.idle_addresses), stop)))
    await asyncio.gather(*tasks, return_exceptions=True)


def run_load(a):
    asyncio.run(load_main(a))


def figures(name, xs):
    ok = sorted(x for x in xs if x is not None)
    if not ok:
        return name, 0, float("nan"), float("nan"), float("nan")
    p99 = ok[min(len(ok) - 1, int(round(0.99 * (len(ok) - 1))))]
    return name, len(ok), statistics.median(ok), p99, ok[-1]


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ca", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--probes", type=int, default=200)
    p.add_argument("--gap", type=float, default=0.05)
    p.add_argument("--refused", type=int, default=500)
    p.add_argument("--slow", type=int, default=250)
    p.add_argument("--idle", type=int, default=250)
    p.add_argument("--slow-addresses", type=int, default=4)
    p.add_argument("--idle-addresses", type=int, default=2)
    a = p.parse_args()
    ctx = ctx_for(a.ca)

    ref = await probes(a, ctx, a.probes)
    # The load runs in its own process, so that the probes' times are
    # nvrd's, not this event loop's.
    load = multiprocessing.Process(target=run_load, args=(a,), daemon=True)
    load.start()
    await asyncio.sleep(8)  # the load builds up, and the first timeouts come round
    under = await probes(a, ctx, a.probes)
    load.terminate()
    load.join()

    print("%d connections pressing: %d from refused addresses (reconnecting), %d slow from %d admitted "
          "addresses, %d idle before TLS from %d admitted addresses" % (
              a.refused + a.slow + a.idle, a.refused, a.slow, a.slow_addresses, a.idle, a.idle_addresses))
    print("%-14s %8s %10s %10s %10s" % ("health probes", "answered", "p50 ms", "p99 ms", "max ms"))
    rows = [figures("reference", ref), figures("under load", under)]
    for name, n, p50, p99, mx in rows:
        print("%-14s %5d/%-3d %10.1f %10.1f %10.1f" % (name, n, a.probes, p50 * 1e3, p99 * 1e3, mx * 1e3))
    print("p99 under load is %.2f times the reference's (%.0f ms)" % (rows[1][3] / rows[0][3], rows[1][3] * 1e3))


if __name__ == "__main__":
    asyncio.run(main())
