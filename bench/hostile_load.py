#!/usr/bin/env python3
"""Hostile load for bench/gateway-hostile.sh: slow request bodies, and a wrong-password flood
against authenticated pulls. Standard library only; prints one JSON line per measurement."""
import base64, http.client, json, socket, statistics, sys, threading, time
from concurrent.futures import ThreadPoolExecutor


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def timed_get(port, path, headers, timeout=10):
    start = time.monotonic()
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        c.request("GET", path, headers=headers)
        r = c.getresponse()
        r.read()
        c.close()
        return r.status, time.monotonic() - start
    except Exception:
        return -1, time.monotonic() - start


def session(port, repo):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("POST", f"/v2/{repo}/blobs/uploads/")
    r = c.getresponse()
    r.read()
    c.close()
    location = r.getheader("Location")
    return location.split("127.0.0.1:%d" % port)[-1] if location.startswith("http") else location


def slow(port, repo, count, seconds):
    """Opens `count` upload sessions and PATCHes each with a body that trickles in (one byte per
    connection every 2 s), waits 3 s, then probes GET /v2/ and GET /v2/<repo>/blobs/<a pushed blob>
    once a second for `seconds`."""
    timed_get(port, "/v2/", {})  # a warm path: the probes measure the load, not the first request
    socks, refused = [], 0
    for _ in range(count):
        try:
            path = session(port, repo)
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall((f"PATCH {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                       "Content-Length: 1000000\r\n\r\nx").encode())
            socks.append(s)
        except OSError:
            refused += 1
    stop = threading.Event()

    def trickle():
        while not stop.is_set():
            for s in list(socks):
                try:
                    s.send(b"y")
                except OSError:
                    socks.remove(s)
            stop.wait(2)
    t = threading.Thread(target=trickle, daemon=True)
    t.start()
    time.sleep(3)
    probes = []
    for _ in range(seconds):
        for path in ("/v2/", f"/v2/{repo}/blobs/{BLOB}"):
            status, took = timed_get(port, path, {}, timeout=5)
            probes.append((status, took))
        time.sleep(1)
    alive = len(socks)
    stop.set()
    for s in socks:
        s.close()
    times = sorted(p[1] for p in probes)
    ok = all(p[0] == 200 and p[1] < 1.0 for p in probes)
    ms = [round(p[1] * 1000) for p in probes]
    print(json.dumps({"slow": count, "connected": count - refused, "still_open": alive, "probes": len(probes),
                      "probe_ok": ok, "probe_median_ms": round(statistics.median(times) * 1000, 1),
                      "probe_max_ms": round(times[-1] * 1000, 1),
                      "probe_statuses": sorted(set(p[0] for p in probes)), "probe_ms": ms}), flush=True)


def flood(port, repo, digest, user, password, rate, seconds):
    """`rate` wrong-password requests a second against `user`, while one client pulls the manifest
    and a small blob with the right password as fast as it can, one pull at a time."""
    stop = threading.Event()
    flood_status = {}
    lock = threading.Lock()
    pool = ThreadPoolExecutor(max_workers=64)

    def wrong(i):
        status, _ = timed_get(port, "/v2/", {"Authorization": basic(user, f"wrong-{i}")})
        with lock:
            flood_status[status] = flood_status.get(status, 0) + 1

    def flooder():
        i, start = 0, time.monotonic()
        while not stop.is_set():
            due = start + i / rate
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            pool.submit(wrong, i)
            i += 1
    t = threading.Thread(target=flooder, daemon=True)
    t.start()
    time.sleep(2)  # let the flood settle in
    good = {"Authorization": basic(user, password),
            "Accept": "application/vnd.oci.image.manifest.v1+json"}
    latencies, failures = [], 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        start = time.monotonic()
        s1, _ = timed_get(port, f"/v2/{repo}/manifests/1", good)
        s2, _ = timed_get(port, f"/v2/{repo}/blobs/{digest}", good)
        took = time.monotonic() - start
        if s1 == 200 and s2 == 200:
            latencies.append(took)
        else:
            failures += 1
        time.sleep(0.05)
    stop.set()
    t.join()
    pool.shutdown(wait=True)
    latencies.sort()
    p = lambda q: round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 1) if latencies else None
    print(json.dumps({"flood_rate": rate, "pulls": len(latencies), "pull_failures": failures,
                      "p50_ms": p(0.5), "p99_ms": p(0.99), "max_ms": p(1.0),
                      "flood_statuses": flood_status}), flush=True)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "slow":
        BLOB = sys.argv[6]
        slow(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    elif mode == "flood":
        flood(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6], float(sys.argv[7]), int(sys.argv[8]))
