#!/usr/bin/env python3
"""What the /admin dashboard costs ssehubd: server CPU (ms per second) with
10,000 idle streams on 1,000 topics, first without a dashboard, then with one
watching (a snapshot every --admin-feed-interval-ms, 1000); and a snapshot's size.
    python3 perf/admin_cost.py BUILD_DIR     (e.g. build/release)
"""
import subprocess, time, json, urllib.request, os, sys
B = sys.argv[1] if len(sys.argv) > 1 else 'build/release'
port=18931
d=subprocess.Popen([f'{B}/examples/ssehubd/ssehubd','--listen',f'127.0.0.1:{port}','--admin-key','K','--no-demo','--log-level','error','--max-connections','20000'],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL)
time.sleep(0.5)
g=subprocess.Popen([f'{B}/perf/loadgen/ssehub_bench','--server',f'http://127.0.0.1:{port}','--scenario','idle','--subs','10000','--topics','1000','--settle','60','--threads','1'],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL)
def stats():
    return json.load(urllib.request.urlopen(f'http://127.0.0.1:{port}/stats'))
while stats()['connections']['active']<10000: time.sleep(0.2)
time.sleep(2)
tick=os.sysconf('SC_CLK_TCK')
def cpu():
    f=open(f'/proc/{d.pid}/stat').read().split(')')[1].split()
    return (int(f[11])+int(f[12]))/tick
def window(s):
    a=cpu(); time.sleep(s); return (cpu()-a)/s*1000
base=window(10)
c=subprocess.Popen(['curl','-sN','-u','a:K',f'http://127.0.0.1:{port}/admin/events'],stdout=subprocess.PIPE)
time.sleep(1.5)
dash=window(10)
c.kill()
out=c.stdout.read().decode()
snap=[l for l in out.splitlines() if l.startswith('data: {"draining"')]
print(f'10k idle streams on 1000 topics: ssehubd CPU {base:.1f} ms/s without a dashboard, {dash:.1f} ms/s with one (feed every 1000 ms); snapshot {len(snap[-1])-6} bytes, {len(snap)} snapshots')
g.kill(); d.kill()
