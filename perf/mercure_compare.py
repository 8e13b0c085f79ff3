#!/usr/bin/env python3
# The Mercure route against the native one, on one fresh ssehubd each run:
#   idle: server RSS per idle stream (N streams opened after 200 warm-up ones);
#   cpu:  server CPU (utime+stime from /proc) per 1000 deliveries, S subscribers
#         of one topic, E events published one request at a time on a kept-alive
#         connection (POST /publish JSON, or the Mercure form with a token),
#         until every subscriber has read every event.
#   python3 perf/mercure_compare.py build/rel/examples/ssehubd/ssehubd idle native 2000
#   python3 perf/mercure_compare.py build/rel/examples/ssehubd/ssehubd idle mercure 2000
#   python3 perf/mercure_compare.py build/rel/examples/ssehubd/ssehubd cpu native 1000 200
#   python3 perf/mercure_compare.py build/rel/examples/ssehubd/ssehubd cpu mercure 1000 200
# (ulimit -n above the stream count first.)
import base64, hashlib, hmac, json, os, selectors, socket, subprocess, sys, urllib.parse

binary, what, mode = sys.argv[1], sys.argv[2], sys.argv[3]
key = "perf-key-0123456789"
proc = subprocess.Popen([binary, "--listen", "127.0.0.1:0", "--no-demo", "--log-level", "warn",
                         "--max-connections", "20000", "--mercure", "--mercure-jwt-key", key, "--mercure-anonymous"],
                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
port = int(proc.stdout.readline().strip().rsplit(":", 1)[1])
route = "/events?topics=x" if mode == "native" else "/.well-known/mercure?topic=https%3A%2F%2Fe.com%2Fx"


def stat(field):
    if field == "rss":
        for line in open(f"/proc/{proc.pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    f = open(f"/proc/{proc.pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def stream():
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(f"GET {route} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    buf = b""
    while b"connected" not in buf:
        buf += s.recv(4096)
    return s


if what == "idle":
    n = int(sys.argv[4])
    warm = [stream() for _ in range(200)]
    before = stat("rss")
    socks = [stream() for _ in range(n)]
    print(f"{mode}: {(stat('rss') - before) / n:.0f} bytes per idle stream ({n} streams)")
else:
    subs, events = int(sys.argv[4]), int(sys.argv[5])
    sel = selectors.DefaultSelector()
    for _ in range(subs):
        s = stream()
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    b64 = lambda x: base64.urlsafe_b64encode(x).rstrip(b"=")
    signed = b64(b'{"alg":"HS256","typ":"JWT"}') + b"." + b64(json.dumps({"mercure": {"publish": ["*"]}}).encode())
    token = (signed + b"." + b64(hmac.new(key.encode(), signed, hashlib.sha256).digest())).decode()
    pub = socket.create_connection(("127.0.0.1", port))

    def publish(i):
        data = f"payload-{i:06d}-" + "x" * 64
        if mode == "native":
            body = json.dumps({"topics": ["x"], "data": data}).encode()
            head = f"POST /publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        else:
            body = urllib.parse.urlencode({"topic": "https://e.com/x", "data": data}).encode()
            head = (f"POST /.well-known/mercure HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                    f"Content-Type: application/x-www-form-urlencoded\r\n")
        pub.sendall((head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
        r = b""
        while b"\r\n\r\n" not in r or len(r.split(b"\r\n\r\n", 1)[1]) < int(
                r.lower().split(b"content-length: ")[1].split(b"\r\n")[0]):
            r += pub.recv(4096)

    start = stat("cpu")
    for i in range(events):
        publish(i)
    got, need = 0, subs * events
    while got < need:
        for k, _ in sel.select(10):
            try:
                got += k.fileobj.recv(1 << 16).count(b"payload-")
            except BlockingIOError:
                pass
    used = stat("cpu") - start
    print(f"{mode}: {used:.2f} s server CPU for {need} deliveries: {used / need * 1e6:.1f} ms per 1000 deliveries")
proc.terminate()
proc.wait()
