#!/usr/bin/env python3
"""ssehubd on NATS JetStream (--nats --nats-jetstream) with 1, 2 and 3 nodes on
one nats-server (-js, file store): deliveries/s and nats-server CPU per publish,
then per-node inbound NATS messages with interest routing at 1,000 topics;
the same without JetStream (--nats alone) for comparison.

Each node has SUBS streams (curl) on topic "bench"; PUBLISHERS threads publish
{"topics":["bench"]} through the nodes round-robin (keep-alive, each waits for
its 202, which JetStream gives after the stream stored the event) for SECONDS.
Deliveries are the nodes' ssehub_events_delivered_total; CPU is read from
/proc (utime+stime) of nats-server and of the nodes.
    python3 perf/nats_scale.py BUILD_DIR [SUBS] [SECONDS] [PUBLISHERS]   (e.g. build/rel 20 5 8)
"""
import http.client, json, os, subprocess, sys, tempfile, threading, time, urllib.request, socket

B = sys.argv[1] if len(sys.argv) > 1 else "build/rel"
SUBS = int(sys.argv[2]) if len(sys.argv) > 2 else 20
SECONDS = float(sys.argv[3]) if len(sys.argv) > 3 else 5
PUBLISHERS = int(sys.argv[4]) if len(sys.argv) > 4 else 8
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK


def wait(cond, what, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        try:
            if cond():
                return
        except Exception:
            pass
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def metric(port, prefix):
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
    total = 0.0
    for line in body.splitlines():
        if line.startswith(prefix):
            total += float(line.rsplit(" ", 1)[1])
    return total


def start_nats(tmp):
    port = free_port()
    p = subprocess.Popen(["nats-server", "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", tmp],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait(lambda: socket.create_connection(("127.0.0.1", port)).close() is None, "nats-server")
    return p, port


def start_nodes(n, nats_port, jetstream=True):
    nodes = []
    for i in range(n):
        port = free_port()
        args = [f"{B}/examples/ssehubd/ssehubd", "--listen", f"127.0.0.1:{port}", "--no-demo", "--log-level", "error",
                "--nats", f"nats://127.0.0.1:{nats_port}", "--nats-prefix", "bench", "--node-id", f"n{i}",
                "--replay-size", "100000", "--max-connections", "10000"]
        if jetstream:
            args.append("--nats-jetstream")
        nodes.append((subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), port))
    fixed = 2 if jetstream else 1
    for p, port in nodes:
        wait(lambda: metric(port, "ssehubd_nats_subscriptions") == fixed, "node subscriptions")
    return nodes


def publisher(port, stop, counts, i, topics):
    c = http.client.HTTPConnection("127.0.0.1", port)
    n = 0
    while not stop.is_set():
        t = topics[n % len(topics)]
        c.request("POST", "/publish", json.dumps({"topics": [t], "data": "x" * 32}), {"Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        if r.status != 202:
            raise SystemExit(f"publish: {r.status}")
        n += 1
    counts[i] = n


def run_publishers(ports, seconds, topics):
    stop = threading.Event()
    counts = [0] * PUBLISHERS
    ts = [threading.Thread(target=publisher, args=(ports[i % len(ports)], stop, counts, i, topics)) for i in range(PUBLISHERS)]
    for t in ts:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in ts:
        t.join()
    return sum(counts)


def scale(n, jetstream=True):
    with tempfile.TemporaryDirectory() as tmp:
        nats, nport = start_nats(tmp)
        nodes = start_nodes(n, nport, jetstream)
        curls = []
        for p, port in nodes:
            for _ in range(SUBS):
                curls.append(subprocess.Popen(["curl", "-sN", f"http://127.0.0.1:{port}/events?topics=bench"],
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for p, port in nodes:
            wait(lambda: metric(port, "ssehub_connections_active") == SUBS, "subscribers")
            wait(lambda: metric(port, "ssehubd_nats_subscriptions") == (3 if jetstream else 2), "interest")
        ports = [port for _, port in nodes]
        run_publishers(ports, 1, ["bench"])  # warm-up
        d0 = sum(metric(port, "ssehub_events_delivered_total") for port in ports)
        c0, n0 = cpu(nats.pid), sum(cpu(p.pid) for p, _ in nodes)
        t0 = time.time()
        pubs = run_publishers(ports, SECONDS, ["bench"])
        t1 = time.time()
        # Deliveries of the last publishes may still be on their way: let them land.
        time.sleep(0.5)
        d1 = sum(metric(port, "ssehub_events_delivered_total") for port in ports)
        c1, n1 = cpu(nats.pid), sum(cpu(p.pid) for p, _ in nodes)
        el = t1 - t0
        print(f"{'JetStream' if jetstream else 'core NATS'} nodes={n} subscribers={n * SUBS} publishes/s={pubs / el:.0f} deliveries/s={(d1 - d0) / el:.0f} "
              f"(expected {pubs * n * SUBS / el:.0f}) nats-server CPU per publish={(c1 - c0) / pubs * 1e6:.1f} us "
              f"ssehubd CPU per publish (all nodes)={(n1 - n0) / pubs * 1e6:.1f} us", flush=True)
        for c in curls:
            c.kill()
        for p, _ in nodes:
            p.kill()
        nats.kill()


def interest(jetstream):
    with tempfile.TemporaryDirectory() as tmp:
        nats, nport = start_nats(tmp)
        nodes = start_nodes(2, nport, jetstream)
        (_, a), (_, b) = nodes
        c = subprocess.Popen(["curl", "-sN", f"http://127.0.0.1:{b}/events?topics=t.7"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        wait(lambda: metric(b, "ssehubd_nats_subscriptions") == (3 if jetstream else 2), "interest")
        topics = [f"t.{i}" for i in range(1000)]
        r0 = metric(b, 'ssehubd_nats_messages_total{node="n1",result="received"')
        conn = http.client.HTTPConnection("127.0.0.1", a)
        for t in topics * 5:
            conn.request("POST", "/publish", json.dumps({"topics": [t], "data": 1}), {"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            assert r.status == 202, r.status
        wait(lambda: metric(b, 'ssehubd_nats_messages_total{node="n1",result="received"') - r0 >= 5, "t.7's events")
        time.sleep(0.5)
        got = metric(b, 'ssehubd_nats_messages_total{node="n1",result="received"') - r0
        print(f"interest ({'JetStream' if jetstream else 'core NATS'}): 5,000 publishes on 1,000 topics through node A; "
              f"node B (one client on t.7) received {got:.0f} NATS messages", flush=True)
        c.kill()
        for p, _ in nodes:
            p.kill()
        nats.kill()


for n in (1, 2, 3):
    scale(n)
for n in (1, 2, 3):
    scale(n, False)
interest(True)
interest(False)
