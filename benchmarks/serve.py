"""Load on `malaria-fastai serve` over loopback: N requests from C concurrent clients to `POST /predict` (one cell
crop each) and to `POST /screen` (one field photo each); every answer checked, latency p50/p95/max and requests a
second printed. The same crops classified in-process by `classify_cells` give the floor the HTTP path adds to.

    python benchmarks/serve.py [--requests 200] [--clients 8] [--fields ZIP] [--field-requests 24] [--data FOLDER]
"""
import argparse, concurrent.futures, os, socket, subprocess, sys, time, zipfile
from pathlib import Path
import numpy as np
from _common import data_folder, machine, timer

def start_server(port:int) -> subprocess.Popen:
    "`malaria-fastai serve` on `port`, once it answers `/health`."
    import httpx
    proc = subprocess.Popen([str(Path(sys.executable).parent/'malaria-fastai'), 'serve', '--port', str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            if httpx.get(f'http://127.0.0.1:{port}/health', timeout=1).status_code == 200: return proc
        except httpx.TransportError: time.sleep(0.1)
    proc.kill(); sys.exit('serve did not start')

def load(url:str, uploads:list[tuple[str, bytes]], n:int, clients:int) -> dict:
    "Send `n` requests (uploads in turn) from `clients` threads, each with its own keep-alive client; latencies, answers."
    import httpx, threading
    local = threading.local()  # a client per thread, keeping its connection alive, as an API client does
    def ask(k):
        name, data = uploads[k % len(uploads)]
        local.client = getattr(local, 'client', None) or httpx.Client(timeout=300)
        with timer() as t: r = local.client.post(url, files={'file': (name, data)})
        return t.s, r.status_code == 200
    with timer() as wall, concurrent.futures.ThreadPoolExecutor(clients) as ex: got = list(ex.map(ask, range(n)))
    lat = np.array([s for s, _ in got])
    return dict(n=n, ok=sum(ok for _, ok in got), p50=np.median(lat), p95=np.percentile(lat, 95), max=lat.max(),
                rate=n / wall.s)

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--requests', type=int, default=200); p.add_argument('--clients', type=int, default=8)
    p.add_argument('--fields', default=os.environ.get('MALARIA_FIELDS')); p.add_argument('--field-requests', type=int, default=24)
    p.add_argument('--data', default=None)
    args = p.parse_args()
    from malaria_fastai.runtime import classify_cells, open_cells
    crops = sorted(data_folder(args.data).rglob('*.png'))[:64]
    cells = open_cells()
    classify_cells(crops, cells)
    with timer() as t: classify_cells(crops * 4, cells, bs=1)
    print(machine())
    print(f"in-process floor: classify_cells one crop at a time {1000 * t.s / (4 * len(crops)):.1f} ms a crop")
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]
    server = start_server(port)
    try:
        runs = [('POST /predict, 1 crop', load(f'http://127.0.0.1:{port}/predict', [(c.name, c.read_bytes()) for c in crops],
                                               args.requests, args.clients))]
        if args.fields:
            with zipfile.ZipFile(args.fields) as z:
                names = sorted(n for n in z.namelist() if n.lower().endswith('.jpg'))[:8]
                photos = [(Path(n).name, z.read(n)) for n in names]
            runs.append(('POST /screen, 1 field', load(f'http://127.0.0.1:{port}/screen', photos, args.field_requests,
                                                       args.clients)))
    finally: server.terminate(); server.wait(30)
    print(f"{args.clients} concurrent clients on loopback")
    print(f"{'':22} {'requests':>8} {'answered':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'req/s':>7}")
    for name, r in runs:
        print(f"{name:22} {r['n']:>8} {r['ok']:>8} {1000 * r['p50']:>8.0f} {1000 * r['p95']:>8.0f} {1000 * r['max']:>8.0f} "
              f"{r['rate']:>7.1f}")

if __name__ == '__main__': main()
