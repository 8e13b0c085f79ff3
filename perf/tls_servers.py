# Shared by perf/tls_idle.py and perf/tls_fanout_cpu.py: a throwaway
# certificate, and one server to measure: ssehubd, or Nchan (Debian's
# nginx-light + libnginx-mod-nchan, one process, `listen ssl http2` unless
# plain) with the same routes: /events (an eventsource subscriber of channel
# `channel`), /publish (a publisher of it), /stats (nchan_stub_status).
import os, socket, subprocess, time


def make_cert(work):
    cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


def start(binary, tls, work, *, channel, max_streams, ssehubd_args=(), cpu=None):
    """Starts the server; returns (process, port)."""
    pin = ["taskset", "-c", str(cpu)] if cpu is not None else []
    cert, key = make_cert(work)
    if binary != "nchan":
        args = [*pin, binary, "--listen", "127.0.0.1:0", "--no-demo", "--log-level", "warn",
                "--h2-max-streams", str(max_streams), *ssehubd_args]
        if tls:
            args += ["--tls-cert", cert, "--tls-key", key]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        return proc, int(proc.stdout.readline().strip().rsplit(":", 1)[1])
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    conf = os.path.join(work, "nginx.conf")
    open(conf, "w").write(f"""load_module /usr/lib/nginx/modules/ngx_nchan_module.so;
daemon off; master_process off; worker_processes 1; worker_rlimit_nofile 40000;
error_log stderr warn; pid {work}/nginx.pid;
events {{ worker_connections 30000; multi_accept on; }}
http {{
  access_log off; client_body_temp_path {work}/body; proxy_temp_path {work}/proxy;
  fastcgi_temp_path {work}/fastcgi; uwsgi_temp_path {work}/uwsgi; scgi_temp_path {work}/scgi;
  keepalive_requests 1000000; http2_max_concurrent_streams {max_streams};
  server {{
    listen 127.0.0.1:{port}{" ssl http2" if tls else ""} backlog=4096;
    ssl_certificate {cert}; ssl_certificate_key {key};
    location = /events {{ nchan_subscriber eventsource; nchan_channel_id {channel}; }}
    location = /publish {{ nchan_publisher; nchan_channel_id {channel}; }}
    location = /stats {{ nchan_stub_status; }}
  }}
}}
""")
    proc = subprocess.Popen([*pin, "nginx", "-c", conf, "-p", work], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port)).close()
            break
        except OSError:
            time.sleep(0.05)  # waiting for nginx to listen (a condition, polled)
    return proc, port


def active_streams(body, nchan):
    """The subscriber count in a /stats answer body."""
    if nchan:  # nchan_stub_status: "subscribers: N" among its lines
        return int([l.split(b":")[1] for l in body.split(b"\n") if l.startswith(b"subscribers:")][0])
    import json
    return json.loads(body)["connections"]["active"]
