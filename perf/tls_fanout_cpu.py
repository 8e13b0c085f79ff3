#!/usr/bin/env python3
# Server CPU per 1000 deliveries with S subscribers of one topic, over plain
# HTTP/1.1, TLS (HTTP/1.1), and HTTP/2 over TLS (one stream per connection, or
# M streams per connection): h2load (nghttp2-client) holds the S event
# streams and reads everything; E events (100-byte data) are published one
# request at a time on one kept-alive HTTP/1.1 connection of the same scheme
# (the daemon has one listener); the daemon's utime+stime (from /proc) is read
# before the first publish and once /stats says every event was delivered
# to every subscriber (events.delivered).
#   python3 perf/tls_fanout_cpu.py SSEHUBD plain 10000 20
#   python3 perf/tls_fanout_cpu.py SSEHUBD tls 10000 20
#   python3 perf/tls_fanout_cpu.py SSEHUBD h2 10000 20        # 10000 connections, 1 stream each
#   python3 perf/tls_fanout_cpu.py SSEHUBD h2x100 10000 20    # 100 connections, 100 streams each
# The daemon runs on CPU 0, h2load on CPU 1 (taskset). ulimit -n above S first.
import json, os, socket, ssl, subprocess, sys, tempfile, time

binary, mode, subs, events = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
work = tempfile.mkdtemp()
cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
tls = mode != "plain"
args = ["taskset", "-c", "0", binary, "--listen", "127.0.0.1:0", "--no-demo", "--log-level", "warn",
        "--max-connections", str(subs + 100), "--h2-max-streams", "200"]
if tls:
    args += ["--tls-cert", cert, "--tls-key", key]
proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
port = int(proc.stdout.readline().strip().rsplit(":", 1)[1])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols(["http/1.1"])


class conn:  # one kept-alive HTTP/1.1 connection for publishes and /stats
    def __init__(self):
        s = socket.create_connection(("127.0.0.1", port))
        self.s = ctx.wrap_socket(s) if tls else s
        self.buf = b""

    def request(self, method, path, body=b""):
        self.s.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.s.recv(65536)
        head, rest = self.buf.split(b"\r\n\r\n", 1)
        n = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0])
        while len(rest) < n:
            rest += self.s.recv(65536)
        self.buf = rest[n:]
        return rest[:n]


def cpu():
    f = open(f"/proc/{proc.pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


c = conn()
stats = lambda: json.loads(c.request("GET", "/stats"))
url = f"{'https' if tls else 'http'}://127.0.0.1:{port}/events?topics=fan"
if mode in ("plain", "tls"):
    load_args = ["--h1", "-c", str(subs), "-n", str(subs)]
elif mode == "h2":
    load_args = ["-c", str(subs), "-m", "1", "-n", str(subs)]
else:  # h2xM
    m = int(mode[3:])
    load_args = ["-c", str(subs // m), "-m", str(m), "-n", str(subs)]
load = subprocess.Popen(["taskset", "-c", "1", "h2load", "-D", "600", *load_args, url],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
deadline = time.monotonic() + 300
while stats()["connections"]["active"] < subs:
    if time.monotonic() > deadline or load.poll() is not None:
        sys.exit(f"{mode}: only {stats()['connections']['active']} of {subs} subscribers connected")
    time.sleep(0.2)  # waiting on a condition (the count), polled
before_cpu, before_delivered = cpu(), stats()["events"]["delivered"]
payload = json.dumps({"topics": ["fan"], "data": "x" * 100}).encode()
start = time.monotonic()
for _ in range(events):
    c.request("POST", "/publish", payload)
want = before_delivered + subs * events
while stats()["events"]["delivered"] < want:
    if time.monotonic() > deadline:
        sys.exit(f"{mode}: deliveries stalled at {stats()['events']['delivered'] - before_delivered} of {subs * events}")
    time.sleep(0.05)
used = cpu() - before_cpu
print(f"{mode}: {used * 1000 / (subs * events / 1000):.1f} ms server CPU per 1000 deliveries "
      f"({subs} subscribers x {events} events, {used:.2f} s CPU, {time.monotonic() - start:.1f} s wall)")
load.kill()
proc.terminate()
proc.wait()
