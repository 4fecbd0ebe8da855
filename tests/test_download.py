"`malaria-fastai download` from a URL: fetched into a temporary name, size-checked by HTTP, renamed, extracted."
import functools, http.server, threading, zipfile
from pathlib import Path
import pytest
from conftest import run_cli

@pytest.fixture
def server(tmp_path):
    "A local HTTP server (loopback only) over `tmp_path/'www'`."
    www = tmp_path/'www'; www.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield www, f'http://127.0.0.1:{httpd.server_address[1]}'
    httpd.shutdown()

def test_download_over_http_then_extract(server, tmp_path):
    www, url = server
    with zipfile.ZipFile(www/'cells.zip', 'w') as z:
        for c in ('Parasitized', 'Uninfected'): z.writestr(f'cell_images/{c}/C1P1_IMG_1_cell_1.png', b'png bytes')
        z.writestr('cell_images/Parasitized/Thumbs.db', b'db')
    dest = tmp_path/'data'
    res = run_cli('download', '--url', f'{url}/cells.zip', '--dest', dest)
    assert Path(res.stdout.splitlines()[-1]) == dest/'cells'/'cell_images'
    assert (dest/'cells.zip').read_bytes() == (www/'cells.zip').read_bytes()
    assert sorted(p.name for p in dest.iterdir()) == ['cells', 'cells.zip']  # no temporary files left
    again = run_cli('download', '--url', f'{url}/cells.zip', '--dest', dest).stdout
    assert again == res.stdout.splitlines()[-1] + '\n'  # reused: no second download

def test_download_of_a_missing_url_is_a_clear_error(server, tmp_path):
    _, url = server
    res = run_cli('download', '--url', f'{url}/nothing.zip', '--dest', tmp_path/'data', check=False)
    assert res.returncode != 0 and 'could not download' in res.stderr
    assert list((tmp_path/'data').iterdir()) == []

def test_a_wrong_checksum_is_an_error_and_nothing_is_kept(server, tmp_path):
    import hashlib
    www, url = server
    with zipfile.ZipFile(www/'cells.zip', 'w') as z:
        for c in ('Parasitized', 'Uninfected'): z.writestr(f'cell_images/{c}/C1P1_IMG_1_cell_1.png', b'png bytes')
    res = run_cli('download', '--url', f'{url}/cells.zip', '--dest', tmp_path/'data', '--sha256', '0'*64, check=False)
    assert res.returncode != 0 and 'does not have the expected SHA-256' in res.stderr
    assert list((tmp_path/'data').iterdir()) == []
    good = hashlib.sha256((www/'cells.zip').read_bytes()).hexdigest()
    res = run_cli('download', '--url', f'{url}/cells.zip', '--dest', tmp_path/'data', '--sha256', good)
    assert Path(res.stdout.splitlines()[-1]) == tmp_path/'data'/'cells'/'cell_images'

def test_a_web_page_is_not_kept_as_the_archive(server, tmp_path):
    "Issue 14: an HTML page answered with status 200 was kept as the archive and poisoned the cache for every later run."
    www, url = server
    (www/'cells.zip').write_text('<html><body>Please log in</body></html>')
    dest = tmp_path/'data'
    res = run_cli('download', '--url', f'{url}/cells.zip', '--dest', dest, check=False)
    assert res.returncode == 1 and 'did not give a zip archive' in res.stderr, res.stderr
    assert list(dest.iterdir()) == []  # nothing kept, nothing left behind
    (dest/'cells.zip').write_text('<html>kept by an older version</html>')  # a cache poisoned before this fix
    with zipfile.ZipFile(www/'cells.zip', 'w') as z:
        for c in ('Parasitized', 'Uninfected'): z.writestr(f'cell_images/{c}/C1P1_IMG_1_cell_1.png', b'png bytes')
    res = run_cli('download', '--url', f'{url}/cells.zip', '--dest', dest)
    assert 'downloading it again' in res.stderr and zipfile.is_zipfile(dest/'cells.zip')
    assert Path(res.stdout.splitlines()[-1]) == dest/'cells'/'cell_images'
    mtime = (dest/'cells.zip').stat().st_mtime_ns
    run_cli('download', '--url', f'{url}/cells.zip', '--dest', dest, '--force')
    assert (dest/'cells.zip').stat().st_mtime_ns != mtime  # --force fetches it again
