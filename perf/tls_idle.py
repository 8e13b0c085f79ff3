#!/usr/bin/env python3
# Idle memory per event stream of one fresh ssehubd, over plain HTTP/1.1, TLS
# (HTTP/1.1, ALPN http/1.1) and HTTP/2 over TLS (ALPN h2, every stream on one
# connection, opened by h2load from nghttp2-client): the daemon's VmRSS grows
# by this much per stream once N streams have their `connected` event (after
# 200 warm-up streams, or one warm-up h2 connection).
#   python3 perf/tls_idle.py build/release/examples/ssehubd/ssehubd plain 2000
#   python3 perf/tls_idle.py build/release/examples/ssehubd/ssehubd tls 2000
#   python3 perf/tls_idle.py build/release/examples/ssehubd/ssehubd h2 2000
#   python3 perf/tls_idle.py nchan tls 2000   # the same against Nchan (nginx-light +
#                                             # libnginx-mod-nchan, one process, ssl + http2)
# (ulimit -n above the stream count first.) The servers and their throwaway
# certificate: perf/tls_servers.py.
import os, socket, ssl, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tls_servers

binary, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
work = tempfile.mkdtemp()
nchan = binary == "nchan"
proc, port = tls_servers.start(binary, mode != "plain", work, channel="idle", max_streams=n + 300,
                               ssehubd_args=["--max-connections", "20000"])
client_tls = ssl.create_default_context()
client_tls.check_hostname = False
client_tls.verify_mode = ssl.CERT_NONE
client_tls.set_alpn_protocols(["http/1.1"])


def rss():
    for l in open(f"/proc/{proc.pid}/status"):
        if l.startswith("VmRSS:"):
            return int(l.split()[1]) * 1024


def connect():
    s = socket.create_connection(("127.0.0.1", port))
    return client_tls.wrap_socket(s) if mode != "plain" else s


def active():
    s = connect()
    s.sendall(b"GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    buf = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        buf += d
    s.close()
    return tls_servers.active_streams(buf.split(b"\r\n\r\n", 1)[1], nchan)


def stream():
    s = connect()
    s.sendall(b"GET /events?topics=idle HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
    buf = b""
    while (b"\r\n\r\n" if nchan else b"connected") not in buf:
        buf += s.recv(4096)
    return s


def wait_active(k):
    deadline = time.monotonic() + 60
    while active() != k:
        if time.monotonic() > deadline:
            sys.exit(f"timed out waiting for {k} active streams")


url = f"https://127.0.0.1:{port}/events?topics=idle"
if mode == "h2":
    # h2load holds its streams open for -D seconds; one warm-up connection first.
    warm = subprocess.Popen(["h2load", "-H", "Accept: text/event-stream", "-c", "1", "-m", "200", "-n", "200", "-D", "60", url],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_active(200)
    before = rss()
    load = subprocess.Popen(["h2load", "-H", "Accept: text/event-stream", "-c", "1", "-m", str(n), "-n", str(n), "-D", "60", url],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_active(200 + n)
    after = rss()
    for p in (load, warm):
        p.kill()
else:
    warm = [stream() for _ in range(200)]
    before = rss()
    socks = [stream() for _ in range(n)]
    wait_active(200 + n)
    after = rss()
print(f"{'nchan ' if nchan else ''}{mode}: {(after - before) / n:.0f} bytes per idle stream ({n} streams; VmRSS {before // 1024} -> {after // 1024} KiB)")
proc.terminate()
proc.wait()
