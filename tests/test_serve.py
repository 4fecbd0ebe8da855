"""`malaria-fastai serve` as users run it: a real server on loopback, its API, bad uploads, 200 requests from 8
clients, and the page in a real browser (headless Chromium driven by Selenium) with a crop and a field photo."""
import concurrent.futures, os, shutil, socket, subprocess, sys, time
from pathlib import Path
import pytest
from conftest import field_zip

httpx = pytest.importorskip('httpx')  # the test extras include the serve extra; a plain install need not

def _free_port() -> int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

@pytest.fixture(scope='module')
def server(tmp_path_factory):
    "The base URL of `malaria-fastai serve` (the shipped model) on a free loopback port, with a 4 MB request limit."
    port, log = _free_port(), tmp_path_factory.mktemp('serve')/'server.log'
    exe = Path(sys.executable).parent/'malaria-fastai'
    proc = subprocess.Popen([str(exe), 'serve', '--port', str(port), '--max-upload-mb', '4'], stdout=open(log, 'w'),
                            stderr=subprocess.STDOUT)
    url = f'http://127.0.0.1:{port}'
    try:
        for _ in range(600):
            if proc.poll() is not None: pytest.fail(f'serve exited {proc.returncode}:\n{log.read_text()}')
            try:
                if httpx.get(url + '/health', timeout=1).status_code == 200: break
            except httpx.TransportError: time.sleep(0.1)
        else: pytest.fail(f'serve did not answer in 60 s:\n{log.read_text()}')
        yield url
    finally:
        proc.terminate(); proc.wait(30)

@pytest.fixture(scope='module')
def field_photo(tmp_path_factory) -> Path:
    "One field photo from the field source in force (the IML dev fields in CI)."
    z, names = field_zip()
    with z:
        out = tmp_path_factory.mktemp('field')/Path(names[0]).name
        out.write_bytes(z.read(names[0]))
    return out

def _crops(cells, n:int) -> list[Path]:
    return sorted(cells.rglob('*.png'))[:n]

def test_predict_answers_rows_like_the_cli(server, cells, tmp_path):
    from conftest import run_cli
    crops = _crops(cells, 3)
    r = httpx.post(server + '/predict', files=[('file', (p.name, p.read_bytes(), 'image/png')) for p in crops] +
                   [('file', ('notes.txt', b'not an image', 'text/plain'))], timeout=60)
    assert r.status_code == 200
    rows = r.json()
    assert [row['path'] for row in rows] == [p.name for p in crops] + ['notes.txt']
    run_cli('predict', *crops, '--format', 'json', '--out', tmp_path/'cli.json')
    import json
    cli = json.loads((tmp_path/'cli.json').read_text())
    assert [(row['prediction'], row['prob_parasitized'], row['refer']) for row in rows[:3]] == \
           [(row['prediction'], row['prob_parasitized'], row['refer']) for row in cli]
    assert rows[3]['prediction'] == '' and 'cannot identify image file' in rows[3]['error']

def test_bad_uploads_get_a_4xx_json_answer_and_the_server_goes_on(server, cells):
    cases = [(dict(files=[('file', ('x.png', b'', 'image/png'))]), 422, 'no upload could be classified'),
             (dict(files=[('file', ('x.png', b'GIF89a junk', 'image/png'))]), 422, 'no upload could be classified'),
             (dict(files=[('file', ('big.png', b'0' * (5 * 2**20), 'image/png'))]), 413, 'request too large'),
             (dict(), 422, None)]  # no file at all
    for kw, status, said in cases:
        r = httpx.post(server + '/predict', timeout=60, **kw)
        assert r.status_code == status and r.headers['content-type'].startswith('application/json'), r.text
        if said: assert said in r.json()['error']
    r = httpx.post(server + '/screen', files={'file': ('f.jpg', b'not a photo', 'image/jpeg')}, timeout=60)
    assert r.status_code == 422 and 'could not be screened' in r.json()['error']
    crop = _crops(cells, 1)[0]
    assert httpx.post(server + '/predict', files={'file': (crop.name, crop.read_bytes())}, timeout=60).status_code == 200

def test_screen_answers_the_cells_and_the_parasitemia(server, field_photo):
    r = httpx.post(server + '/screen', files={'file': (field_photo.name, field_photo.read_bytes(), 'image/jpeg')},
                   timeout=120)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got['field'] == field_photo.name and len(got['cells']) > 50 and got['counts']['cells'] == len(got['cells'])
    assert set(got['cells'][0]) == {'x', 'y', 'w', 'h', 'prob_parasitized', 'prediction', 'refer', 'flag'}
    est = got['parasitemia']  # an IML field, an NIH model: shifted, as the CLI says
    assert got['summary']['site_check']['shifted'] and est['value'] is None and 0 <= est['naive'] <= 1, got['summary']

def test_200_requests_from_8_clients_are_all_answered(server, cells):
    crops = _crops(cells, 40)
    def ask(k):
        p = crops[k % len(crops)]
        r = httpx.post(server + '/predict', files={'file': (p.name, p.read_bytes())}, timeout=120)
        return r.status_code, r.json()[0]['path']
    with concurrent.futures.ThreadPoolExecutor(8) as ex: answers = list(ex.map(ask, range(200)))
    assert answers == [(200, crops[k % len(crops)].name) for k in range(200)]

def test_the_api_path_never_imports_torch(cells):
    crop = _crops(cells, 1)[0]
    code = ("import sys; from fastapi.testclient import TestClient; from malaria_fastai.serve import make_app\n"
            f"r = TestClient(make_app()).post('/predict', files={{'file': ('c.png', open({str(crop)!r}, 'rb').read())}})\n"
            "print(r.status_code, sorted(m for m in ('torch', 'fastai') if m in sys.modules))")
    res = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert res.stdout.strip().endswith('200 []'), res.stdout + res.stderr

@pytest.fixture(scope='module')
def browser():
    "Headless Chromium (Debian's `chromium` and `chromedriver`; `.ci/run` installs them) driven by Selenium."
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    chromium, driver = shutil.which('chromium'), shutil.which('chromedriver')
    if not (chromium and driver): pytest.fail('the page test needs chromium and chromedriver: apt-get install chromium chromium-driver')
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for a in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--window-size=1280,1400'): opts.add_argument(a)
    d = webdriver.Chrome(service=Service(driver), options=opts)
    yield d
    d.quit()

def test_the_page_classifies_a_crop_and_screens_a_field_in_a_browser(server, browser, cells, field_photo, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    wait, button = WebDriverWait(browser, 90), lambda text: f"//button[normalize-space()='{text}']"
    browser.get(server + '/')
    wait.until(lambda d: d.find_elements(By.XPATH, button('Classify')))
    crop = _crops(cells, 1)[0]
    browser.find_element(By.CSS_SELECTOR, "input[type=file][accept='image/*'][multiple]").send_keys(str(crop))
    wait.until(lambda d: crop.stem in d.find_element(By.TAG_NAME, 'body').text)  # uploaded
    browser.find_element(By.XPATH, button('Classify')).click()
    wait.until(lambda d: 'classified 1 of 1' in d.find_element(By.ID, 'crops-summary').text)
    page = browser.find_element(By.TAG_NAME, 'body').text
    assert crop.name in page and ('Parasitized' in page or 'Uninfected' in page)
    browser.save_screenshot(str(tmp_path/'crops.png'))
    assert (tmp_path/'crops.png').read_bytes()[:4] == b'\x89PNG'
    browser.find_element(By.XPATH, "//button[@role='tab'][normalize-space()='Whole field']").click()
    wait.until(lambda d: d.find_elements(By.XPATH, button('Screen'))[0].is_displayed())
    photo = [e for e in browser.find_elements(By.CSS_SELECTOR, "input[type=file][accept='image/*']")
             if e.get_attribute('multiple') is None]  # the field tab's one-photo input
    photo[0].send_keys(str(field_photo))
    wait.until(lambda d: field_photo.stem in d.find_element(By.TAG_NAME, 'body').text)
    browser.find_element(By.XPATH, button('Screen')).click()
    wait.until(lambda d: 'parasitemia' in d.find_element(By.ID, 'field-summary').text)
    said = browser.find_element(By.ID, 'field-summary').text
    assert 'cells found' in said and 'parasitemia withheld' in said and 'site check: shifted' in said, said  # an IML field
    assert any(img.size['width'] > 300 for img in browser.find_elements(By.TAG_NAME, 'img'))  # the overlay

def _page_call(server, fn:str, data:list) -> str:
    "Call the page's handler `fn` as any client can (Gradio's HTTP API, no upload first): its event stream's text."
    r = httpx.post(f'{server}/gradio_api/call/{fn}', json=dict(data=data), timeout=60)
    assert r.status_code == 200, r.text
    return httpx.get(f"{server}/gradio_api/call/{fn}/{r.json()['event_id']}", timeout=120).text

def test_the_page_reads_no_file_of_the_server(server, field_photo):
    here = lambda path: dict(path=str(path), meta={'_type': 'gradio.FileData'})
    answers = set()  # a file that exists and one that does not get the same answer: no file is read, none is told of
    for fn, data in (('on_field', [here(field_photo)]), ('on_field', [here('/nonexistent/x.png')]),
                     ('on_crops', [[here(field_photo)]]), ('on_field', [here(Path(field_photo).parent/'..'/'..'/'x.png')])):
        said = _page_call(server, fn, data)
        assert 'event: error' in said and 'cells found' not in said and 'classified' not in said, said[:500]
        assert 'Errno' not in said and 'No such file' not in said, said[:500]
        named = data[0]['path'] if fn == 'on_field' else data[0][0]['path']
        answers.add(said.replace(os.path.abspath(named), 'PATH').replace(named, 'PATH'))
    assert len(answers) == 1, answers

def test_a_request_for_another_host_name_is_refused(server):
    port = server.rsplit(':', 1)[1]
    assert httpx.get(server + '/health', headers={'Host': f'attacker.example:{port}'}, timeout=10).status_code == 400
    assert httpx.get(server + '/', headers={'Host': f'attacker.example:{port}'}, timeout=10).status_code == 400
    assert httpx.get(server + '/health', headers={'Host': f'localhost:{port}'}, timeout=10).status_code == 200

def _multipart(parts:list[tuple[str, bytes]]) -> tuple[bytes, str]:
    "A multipart body with `file` parts named byte for byte (httpx would percent-encode a NUL or a control character)."
    body = b''.join(b'--x\r\nContent-Disposition: form-data; name="file"; filename="' + name.encode() + b'"\r\n'
                    b'Content-Type: image/png\r\n\r\n' + data + b'\r\n' for name, data in parts)
    return body + b'--x--\r\n', 'multipart/form-data; boundary=x'

def test_odd_upload_names_are_answered_without_server_paths(server, cells):
    import tempfile
    crop = _crops(cells, 1)[0].read_bytes()
    names = ['a\x00b.png', 'C:\\Users\\x\\crop.png', 'tab\there.p\x01ng', '../../etc/passwd.png', 'x.png\\..\\y']
    body, kind = _multipart([(n, crop) for n in names] + [('bad\\\x02name.p\x00ng', b'not an image')])
    r = httpx.post(server + '/predict', content=body, headers={'content-type': kind}, timeout=60)
    assert r.status_code == 200, r.text
    rows = r.json()
    assert len(rows) == len(names) + 1 and all(row['prediction'] for row in rows[:-1]) and rows[-1]['error'], rows
    assert tempfile.gettempdir() not in r.text and 'Traceback' not in r.text

@pytest.mark.parametrize('colour', ['white', 'black', (200, 120, 140)])
def test_a_field_with_no_cells_is_an_answer_not_a_number(server, colour):
    import io
    from PIL import Image
    for size in ((640, 480), (10, 10)):
        buf = io.BytesIO(); Image.new('RGB', size, colour).save(buf, 'PNG')
        r = httpx.post(server + '/screen', files={'file': ('plain.png', buf.getvalue(), 'image/png')}, timeout=60)
        assert r.status_code == 200, r.text
        est = r.json()['parasitemia']
        assert est['value'] is None and est['ci95'] is None and 'no cell was counted' in est['undefined'], est
