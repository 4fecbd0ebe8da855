"`malaria-fastai download` from a URL: fetched into a scratch folder, checked, renamed under a name keyed by the URL, extracted."
import functools, http.server, subprocess, threading, time, zipfile
from pathlib import Path
import pytest
from conftest import run_cli
from malaria_fastai.data import archive_name

@pytest.fixture
def server(tmp_path):
    "A local HTTP server (loopback only) over `tmp_path/'www'`; `/stall` sends a few bytes of a large file, then nothing."
    www = tmp_path/'www'; www.mkdir()
    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            if self.path != '/stall.zip': return super().do_GET()
            self.send_response(200); self.send_header('Content-Length', str(10**6)); self.end_headers()
            self.wfile.write(b'PK\x03\x04'); self.wfile.flush()
            time.sleep(30)
        def log_message(self, *args): pass
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Handler, directory=str(www)))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield www, f'http://127.0.0.1:{httpd.server_address[1]}'
    httpd.shutdown()

def _cells_zip(path:Path, *extra):
    "A small archive in the NIH layout, with `extra` (name, bytes) entries."
    with zipfile.ZipFile(path, 'w') as z:
        for c in ('Parasitized', 'Uninfected'): z.writestr(f'cell_images/{c}/C1P1_IMG_1_cell_1.png', b'png bytes')
        for name, data in extra: z.writestr(name, data)

def test_download_over_http_then_extract(server, tmp_path):
    www, url = server
    _cells_zip(www/'cells.zip', ('cell_images/Parasitized/Thumbs.db', b'db'))
    dest, name = tmp_path/'data', archive_name(f'{url}/cells.zip')
    res = run_cli('download', '--url', f'{url}/cells.zip', '--dest', dest)
    root = dest/Path(name).stem/'cell_images'
    assert Path(res.stdout.splitlines()[-1]) == root
    assert (dest/name).read_bytes() == (www/'cells.zip').read_bytes()
    assert sorted(p.name for p in dest.iterdir()) == sorted([Path(name).stem, name])  # no temporary files left
    assert not (root/'Parasitized'/'Thumbs.db').exists() and 'left out 1 files' in res.stderr  # images only
    again = run_cli('download', '--url', f'{url}/cells.zip', '--dest', dest).stdout
    assert again == res.stdout.splitlines()[-1] + '\n'  # reused: no second download

def test_two_urls_never_share_a_cached_archive(server, tmp_path):
    "Issue 14: the cache was keyed by file name, so another URL's cells.zip was taken for this one's."
    www, url = server
    (www/'mirror').mkdir()
    _cells_zip(www/'cells.zip')
    _cells_zip(www/'mirror'/'cells.zip', ('cell_images/Uninfected/C2P2_IMG_1_cell_9.png', b'more'))
    roots = [Path(run_cli('download', '--url', u, '--dest', tmp_path/'data').stdout.splitlines()[-1])
             for u in (f'{url}/cells.zip', f'{url}/mirror/cells.zip')]
    assert roots[0] != roots[1]
    assert [len(list(r.rglob('*.png'))) for r in roots] == [2, 3]

def test_download_of_a_missing_url_is_a_clear_error(server, tmp_path):
    _, url = server
    res = run_cli('download', '--url', f'{url}/nothing.zip', '--dest', tmp_path/'data', check=False)
    assert res.returncode != 0 and 'could not download' in res.stderr
    assert list((tmp_path/'data').iterdir()) == []

def test_a_stalled_server_times_out_and_old_scratch_folders_are_swept(server, tmp_path):
    "Issue 14: a server that stalls hung the download forever and left `.download-*` folders behind."
    _, url = server
    dest = tmp_path/'data'
    dead = subprocess.Popen(['true']); dead.wait()
    (dest/f'.download-{dead.pid}-abc').mkdir(parents=True)  # left by a download that was killed
    (dest/'.download-xyz').mkdir()  # left by an older version
    start = time.time()
    res = run_cli('download', '--url', f'{url}/stall.zip', '--dest', dest, '--timeout', 2, check=False)
    assert res.returncode == 1 and 'no data for 2 s (a stalled server?)' in res.stderr, res.stderr
    assert time.time() - start < 25  # not the 30 s the server stalls, nor forever
    assert list(dest.iterdir()) == []  # nothing partial, and the stale folders swept

def test_a_zip_bomb_is_not_extracted(server, tmp_path):
    "Issue 14: a 4.2 MB zip extracted to 4 GiB: no size or ratio limit."
    www, url = server
    with zipfile.ZipFile(www/'bomb.zip', 'w', zipfile.ZIP_DEFLATED) as z:
        z.writestr('cell_images/Parasitized/C1P1_IMG_1_cell_1.png', bytes(256 * 2**20))
        z.writestr('cell_images/Uninfected/C1P1_IMG_1_cell_2.png', b'png bytes')
    assert (www/'bomb.zip').stat().st_size < 2**20
    res = run_cli('download', '--url', f'{url}/bomb.zip', '--dest', tmp_path/'data', check=False)
    assert res.returncode == 1 and 'a zip bomb?' in res.stderr, res.stderr
    assert [p.name for p in (tmp_path/'data').iterdir()] == [archive_name(f'{url}/bomb.zip')]  # nothing extracted

def test_a_wrong_checksum_is_an_error_and_nothing_is_kept(server, tmp_path):
    import hashlib
    www, url = server
    _cells_zip(www/'cells.zip')
    res = run_cli('download', '--url', f'{url}/cells.zip', '--dest', tmp_path/'data', '--sha256', '0'*64, check=False)
    assert res.returncode != 0 and 'does not have the expected SHA-256' in res.stderr
    assert list((tmp_path/'data').iterdir()) == []
    good = hashlib.sha256((www/'cells.zip').read_bytes()).hexdigest()
    res = run_cli('download', '--url', f'{url}/cells.zip', '--dest', tmp_path/'data', '--sha256', good)
    assert Path(res.stdout.splitlines()[-1]).parent.parent == tmp_path/'data'

def test_a_web_page_is_not_kept_as_the_archive(server, tmp_path):
    "Issue 14: an HTML page answered with status 200 was kept as the archive and poisoned the cache for every later run."
    www, url = server
    (www/'cells.zip').write_text('<html><body>Please log in</body></html>')
    dest, name = tmp_path/'data', archive_name(f'{url}/cells.zip')
    res = run_cli('download', '--url', f'{url}/cells.zip', '--dest', dest, check=False)
    assert res.returncode == 1 and 'did not give a zip archive' in res.stderr, res.stderr
    assert list(dest.iterdir()) == []  # nothing kept, nothing left behind
    (dest/name).write_text('<html>kept by an older version</html>')  # a cache poisoned before this fix
    _cells_zip(www/'cells.zip')
    res = run_cli('download', '--url', f'{url}/cells.zip', '--dest', dest)
    assert 'downloading it again' in res.stderr and zipfile.is_zipfile(dest/name)
    assert Path(res.stdout.splitlines()[-1]) == dest/Path(name).stem/'cell_images'
    mtime = (dest/name).stat().st_mtime_ns
    run_cli('download', '--url', f'{url}/cells.zip', '--dest', dest, '--force')
    assert (dest/name).stat().st_mtime_ns != mtime  # --force fetches it again
