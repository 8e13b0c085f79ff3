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
#   python3 perf/tls_fanout_cpu.py nchan MODE 10000 20        # the same against Nchan (nginx-light +
#       libnginx-mod-nchan, one process, `listen ssl http2`; publishes POST /publish). Nchan has no
#       delivery counter: its run ends when its CPU time has not moved for 1 s after the last
#       publish (ssehubd's when events.delivered is complete; its idle wait is reported too).
# The daemon runs on CPU 0, h2load on CPU 1 (taskset). ulimit -n above S first.
import json, os, socket, ssl, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tls_servers

binary, mode, subs, events = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
work = tempfile.mkdtemp()
tls = mode != "plain"
nchan = binary == "nchan"
proc, port = tls_servers.start(binary, tls, work, channel="fan", max_streams=200, cpu=0,
                               ssehubd_args=["--max-connections", str(subs + 100)])
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


def stats():
    body = c.request("GET", "/stats")
    if not nchan:
        return json.loads(body)
    return {"connections": {"active": tls_servers.active_streams(body, True)}, "events": {"delivered": 0}}



url = f"{'https' if tls else 'http'}://127.0.0.1:{port}/events?topics=fan"
if mode in ("plain", "tls"):
    load_args = ["--h1", "-c", str(subs), "-n", str(subs)]
elif mode == "h2":
    load_args = ["-c", str(subs), "-m", "1", "-n", str(subs)]
else:  # h2xM
    m = int(mode[3:])
    load_args = ["-c", str(subs // m), "-m", str(m), "-n", str(subs)]
load = subprocess.Popen(["taskset", "-c", "1", "h2load", "-H", "Accept: text/event-stream", "-D", "600", *load_args, url],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
deadline = time.monotonic() + 300
while stats()["connections"]["active"] < subs:
    if time.monotonic() > deadline or load.poll() is not None:
        sys.exit(f"{mode}: only {stats()['connections']['active']} of {subs} subscribers connected")
    time.sleep(0.2)  # waiting on a condition (the count), polled
before_cpu, before_delivered = cpu(), stats()["events"]["delivered"]
payload = b"x" * 100 if nchan else json.dumps({"topics": ["fan"], "data": "x" * 100}).encode()
start = time.monotonic()
for _ in range(events):
    c.request("POST", "/publish", payload)
want = before_delivered + subs * events
while not nchan and stats()["events"]["delivered"] < want:
    if time.monotonic() > deadline:
        sys.exit(f"{mode}: deliveries stalled at {stats()['events']['delivered'] - before_delivered} of {subs * events}")
    time.sleep(0.05)
used = cpu() - before_cpu
# Until the server's CPU time stops moving for 1 s: Nchan's only end signal.
last, still = cpu(), time.monotonic()
while time.monotonic() - still < 1.0:
    time.sleep(0.1)
    now = cpu()
    if now != last:
        last, still = now, time.monotonic()
idle_used = last - before_cpu
if nchan:
    used = idle_used
print(f"{'nchan ' if nchan else ''}{mode}: {used * 1000 / (subs * events / 1000):.1f} ms server CPU per 1000 deliveries "
      f"({subs} subscribers x {events} events, {used:.2f} s CPU; until idle: "
      f"{idle_used * 1000 / (subs * events / 1000):.1f} ms)")
load.kill()
proc.terminate()
proc.wait()
