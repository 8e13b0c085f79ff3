#!/usr/bin/env python3
# N TLS handshakes at once against ssehubd: h2load --h1 (CPU 1) opens N idle
# event streams over HTTPS at the same moment, ssehubd runs on CPU 0; prints
# how many streams were open at best and when, and /stats'
# tls_handshake_failures (timeouts past --tls-handshake-timeout-ms, errors).
#   python3 perf/tls_burst.py SSEHUBD 10000      (ulimit -n above 2 N first)
import json, os, ssl, subprocess, sys, tempfile, time, urllib.request
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tls_servers
binary, n = sys.argv[1], int(sys.argv[2])
work = tempfile.mkdtemp()
proc, port = tls_servers.start(binary, True, work, channel="fan", max_streams=200, cpu=0,
                               ssehubd_args=["--max-connections", str(n + 100)])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def stats():
    return json.load(urllib.request.urlopen(f"https://127.0.0.1:{port}/stats", context=ctx))
h = subprocess.Popen(["taskset", "-c", "1", "h2load", "--h1", "-c", str(n), "-n", str(n), "-D", "40",
                      f"https://127.0.0.1:{port}/events?topics=fan"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
t0 = time.time(); best = 0
while time.time() - t0 < 45 and h.poll() is None:
    try:
        s = stats(); best = max(best, s["connections"]["active"])
        if best >= n: break
    except Exception: pass
    time.sleep(0.5)
s = stats()
print(f"{binary}: {n} handshakes at once: streams open at best {best}, after {time.time()-t0:.1f} s; "
      f"handshake failures {s['tls_handshake_failures']}")
h.kill(); proc.kill()
