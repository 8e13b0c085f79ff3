#!/usr/bin/env python3
# Server CPU per published event through ssehubd's HTTP API: single POST /publish
# requests against JSON-array batches of BATCH events, on one keep-alive connection,
# no subscribers (the publish path alone). Reads the server's utime+stime from /proc.
#   ssehubd --listen 127.0.0.1:8080 --no-demo --log-level warn &
#   python3 perf/publish_cost.py 8080 $! 20000 1     # single requests
#   python3 perf/publish_cost.py 8080 $! 20000 100   # batches of 100
import http.client, json, os, sys
port, pid, n, batch = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def cpu():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
c = http.client.HTTPConnection("127.0.0.1", port)
ev = {"topics": ["orders.eu"], "type": "updated", "data": {"id": 42}}
body1 = json.dumps(ev)
bodyb = json.dumps([ev] * batch)
t0 = cpu()
sent = 0
while sent < n:
    if batch == 1:
        c.request("POST", "/publish", body1, {"Content-Type": "application/json"})
        sent += 1
    else:
        c.request("POST", "/publish", bodyb, {"Content-Type": "application/json"})
        sent += batch
    r = c.getresponse(); r.read()
    assert r.status == 202, r.status
t1 = cpu()
print(f"batch={batch} events={sent} server_cpu={t1-t0:.2f}s per_event_us={(t1-t0)/sent*1e6:.1f}")
