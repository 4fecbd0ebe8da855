"Nothing a user feeds the project crashes it halfway, corrupts its data or loses a result: real files, real processes."
import functools, http.server, json, os, pickle, shutil, signal, subprocess, sys, threading, time
from pathlib import Path
import numpy as np, pandas as pd, pytest
from PIL import Image
from conftest import run_cli

def _odd_inputs(folder:Path, cell:Path) -> dict:
    "Write every kind of awkward input into `folder`; return {name: True if it must be classified, False if skipped}."
    rgb = np.asarray(Image.open(cell).convert('RGB'))
    (folder/'zero-byte.png').write_bytes(b'')
    (folder/'truncated.png').write_bytes(cell.read_bytes()[:200])
    (folder/'page.png').write_text('<!DOCTYPE html><html><body>404 not found</body></html>')
    (folder/'Thumbs.db').write_bytes(b'\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1' + b'\0' * 504)
    (folder/'.DS_Store').write_bytes(b'\0\0\0\1Bud1' + b'\0' * 100)
    Image.fromarray(rgb).convert('L').save(folder/'gray.png')
    Image.fromarray(rgb).convert('RGBA').save(folder/'rgba.png')
    Image.fromarray(rgb).convert('P').save(folder/'palette.png')
    Image.fromarray(rgb[..., 1].astype(np.uint16) * 257).save(folder/'gray16.png')
    for ext in ('jpg', 'tif', 'bmp'): Image.fromarray(rgb).save(folder/f'cell.{ext}')
    shutil.copy(cell, folder/'name with spaces é ü 細胞.png')
    Image.new('1', (20000, 20000)).save(folder/'huge.png')
    (folder/'loop').symlink_to(folder/'loop')  # a link to itself
    (folder/'sub'/'empty').mkdir(parents=True)
    (folder/'sub'/'linkback').symlink_to(folder, target_is_directory=True)  # a folder loop
    return {'zero-byte.png': False, 'truncated.png': False, 'page.png': False, 'Thumbs.db': False, '.DS_Store': False,
            'gray.png': True, 'rgba.png': True, 'palette.png': True, 'gray16.png': True, 'cell.jpg': True, 'cell.tif': True,
            'cell.bmp': True, 'name with spaces é ü 細胞.png': True, 'huge.png': False, 'loop': False}

@pytest.mark.parametrize('engine', ['onnx', 'torch'])
def test_every_awkward_input_gets_a_row(trained, cells, tmp_path, engine):
    out, _ = trained
    cell = sorted((cells/'Parasitized').glob('*.png'))[0]
    folder = tmp_path/'inputs'; folder.mkdir()
    expected = _odd_inputs(folder, cell)
    csv = tmp_path/'out.csv'
    res = run_cli('predict', folder, tmp_path/'missing.png', tmp_path/'empty-dir', cell, '--model', out/'model.pkl',
                  '--engine', engine, '--csv', csv, check=False)
    assert res.returncode == 0, res.stderr
    df = pd.read_csv(csv, keep_default_na=False)
    by_name = {Path(p).name: r for p, r in zip(df.path, df.to_dict('records'))}
    for name, classified in expected.items():
        row = by_name[name]
        assert (row['prediction'] != '') == classified, (name, row)
        assert (row['error'] != '') == (not classified), (name, row)
    assert 'over the limit' in by_name['huge.png']['error']
    assert by_name['missing.png']['error'] == 'no such file or folder'
    assert len(df) == len(expected) + 3  # + two missing paths + the original cell (the empty subfolder holds no file)
    # lossless conversions of a cell give that cell's probability
    original = float(df.prob_parasitized.iloc[-1])
    for name in ('rgba.png', 'cell.tif', 'cell.bmp', 'name with spaces é ü 細胞.png'):
        assert abs(float(by_name[name]['prob_parasitized']) - original) < 1e-4, name
    skipped = sum(not c for c in expected.values()) + 2
    assert f'{skipped} skipped' in res.stderr

def test_an_empty_folder_is_reported_not_fatal(trained, tmp_path):
    out, _ = trained
    (tmp_path/'empty').mkdir()
    res = run_cli('predict', tmp_path/'empty', '--model', out/'model.pkl', '--csv', tmp_path/'o.csv', check=False)
    assert res.returncode == 1 and 'no image could be classified' in res.stderr
    assert pd.read_csv(tmp_path/'o.csv').error.tolist() == ['folder holds no files']

def _class_folders(root:Path, cells:Path, classes=('Parasitized', 'Uninfected'), n=12):
    for c in classes:
        (root/c).mkdir(parents=True)
        for f in sorted((cells/c if (cells/c).exists() else cells/'Uninfected').glob('*.png'))[:n]: shutil.copy(f, root/c/f.name)

@pytest.mark.parametrize('layout,message', [
    (('Parasitized',), 'no folder with both Parasitized and Uninfected'),
    (('Parasitized', 'Uninfected', 'Gametocyte'), 'unknown class folder(s)')])
def test_training_refuses_a_bad_class_layout_before_any_epoch(cells, tmp_path, layout, message):
    _class_folders(tmp_path/'data', cells, layout)
    res = run_cli('train', '--data', tmp_path/'data', '--no-pretrained', '--epochs', 1, '--size', 32, '--out', tmp_path/'run', check=False)
    assert res.returncode != 0 and message in res.stderr
    assert 'epoch' not in res.stdout and not (tmp_path/'run'/'checkpoints').exists()

def test_training_skips_and_lists_unreadable_images(cells, tmp_path):
    data = tmp_path/'data'
    shutil.copytree(cells, data)
    (data/'Parasitized'/'C1P1_IMG_1_cell_broken.png').write_bytes(b'\x89PNG\r\n\x1a\n broken')
    (data/'Uninfected'/'Thumbs.db').write_bytes(b'\0' * 64)
    res = run_cli('train', '--data', data, '--no-pretrained', '--epochs', 1, '--size', 32, '--out', tmp_path/'run')
    assert 'skipped unreadable image' in res.stdout and 'C1P1_IMG_1_cell_broken.png' in res.stdout
    assert '1 unreadable skipped' in res.stdout

def test_interrupted_training_resumes_to_the_same_number_of_epochs(cells, tmp_path):
    run = tmp_path/'run'
    args = ['train', '--data', cells, '--no-pretrained', '--epochs', 4, '--size', 32, '--bs', 16, '--out', run]
    exe = Path(sys.executable).parent/'malaria-fastai'
    proc = subprocess.Popen([str(exe), *map(str, args)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (run/'checkpoints'/'scratch_epoch_1.pth').exists():
        assert proc.poll() is None and time.time() < deadline, 'training ended or stalled before its second checkpoint'
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run/'model.pkl').exists()
    res = run_cli(*args, '--resume')
    assert 'resuming stage scratch after epoch' in res.stdout
    history = pd.read_csv(run/'history.csv')
    assert history.epoch.tolist() == [0, 1, 2, 3]
    assert sorted(p.name for p in (run/'checkpoints').glob('scratch_epoch_*.pth')) == ['scratch_epoch_3.pth']  # the last only
    assert not list((run/'checkpoints').glob('.*part*'))
    fresh = json.loads((run/'model.json').read_text())
    assert fresh['split'] == 'patient' and fresh['seed'] == 42

def test_same_seed_same_split_and_same_metrics(cells, tmp_path):
    for name in ('a', 'b'):
        run_cli('train', '--data', cells, '--no-pretrained', '--epochs', 2, '--size', 32, '--bs', 16, '--out', tmp_path/name)
    a, b = (pd.read_csv(tmp_path/n/'history.csv') for n in 'ab')
    cols = ['train_loss', 'valid_loss', 'accuracy', 'sensitivity', 'specificity', 'roc_auc']
    assert np.allclose(a[cols].values, b[cols].values, atol=1e-6, rtol=0), (a[cols], b[cols])
    ma, mb = (json.loads((tmp_path/n/'model.json').read_text()) for n in 'ab')
    assert ma['valid_patients'] == mb['valid_patients'] and ma['threshold'] == mb['threshold']
    for key in ('malaria_fastai', 'fastai', 'torch', 'seed', 'split', 'size', 'threshold'): assert key in ma

class _Payload:
    "Unpickling this creates `marker`: what a malicious export could do instead."
    def __init__(self, marker): self.marker = str(marker)
    def __reduce__(self): return (open, (self.marker, 'w'))

def test_a_pickle_is_not_trusted_for_its_checksum(trained, cells, tmp_path):
    "Issue 14: a malicious model.pkl with `sha256sum model.pkl > model.pkl.sha256` beside it ran its code, no flag, no warning."
    from malaria_fastai.core import write_checksum
    marker, evil = tmp_path/'pwned', tmp_path/'evil'/'model.pkl'
    evil.parent.mkdir()
    evil.write_bytes(pickle.dumps(_Payload(marker)))
    write_checksum(evil)
    for args in (['predict', cells, '--model', evil, '--engine', 'torch'], ['export-onnx', evil],
                 ['evaluate', cells, '--model', evil, '--out', tmp_path/'ev', '--n-boot', 10]):
        res = run_cli(*args, check=False)
        assert res.returncode == 1 and 'is a pickle without model.safetensors' in res.stderr and '--trust-model' in res.stderr, res.stderr
        assert not marker.exists(), args
    res = run_cli('predict', cells, '--model', evil, '--engine', 'torch', '--trust-model', check=False)
    assert marker.exists() and 'insecure pickle' in res.stderr  # the opt-in is real, and fastai's warning is shown

def test_changed_weights_are_refused_and_a_foreign_pickle_needs_opt_in(trained, cells, tmp_path):
    out, _ = trained
    for f in ('model.safetensors', 'model.safetensors.sha256'): shutil.copy(out/f, tmp_path/f)
    with open(tmp_path/'model.safetensors', 'ab') as f: f.write(b'\0')
    res = run_cli('predict', cells, '--model', tmp_path/'model.pkl', '--engine', 'torch', check=False)
    assert res.returncode != 0 and 'does not match its SHA-256' in res.stderr
    (tmp_path/'model.safetensors').unlink()
    shutil.copy(out/'model.pkl', tmp_path/'model.pkl')  # the export alone, as from elsewhere
    res = run_cli('predict', cells, '--model', tmp_path/'model.pkl', '--engine', 'torch', check=False)
    assert res.returncode != 0 and '--trust-model' in res.stderr
    run_cli('predict', cells, '--model', tmp_path/'model.pkl', '--engine', 'torch', '--trust-model', '--csv', tmp_path/'o.csv')
    assert len(pd.read_csv(tmp_path/'o.csv')) == len(list(cells.rglob('*.png')))

def test_a_changed_onnx_twin_is_refused_on_every_path(trained, cells, tmp_path):
    "Issue 14: a threshold rewritten in the twin's metadata turned every parasitized cell Uninfected, exit 0, no warning."
    from malaria_fastai.runtime import OnnxCells, write_onnx_meta
    out, _ = trained
    for f in ('model.safetensors', 'model.safetensors.sha256', 'model.onnx', 'model.onnx.sha256'): shutil.copy(out/f, tmp_path/f)
    write_onnx_meta(tmp_path/'model.onnx', dict(OnnxCells(out/'model.onnx').meta, threshold=0.99))
    for args in (['predict', cells, '--model', tmp_path/'model.pkl'], ['predict', cells, '--model', tmp_path/'model.onnx'],
                 ['evaluate', cells, '--model', tmp_path/'model.pkl', '--out', tmp_path/'ev', '--n-boot', 10]):
        res = run_cli(*args, check=False)
        assert res.returncode != 0 and 'does not match its SHA-256' in res.stderr, (args, res.stderr)
    (tmp_path/'model.onnx.sha256').unlink()
    res = run_cli('predict', cells, '--model', tmp_path/'model.onnx', check=False)
    assert res.returncode != 0 and '--trust-model' in res.stderr

def test_a_model_with_renamed_classes_is_a_clear_error(trained, cells, tmp_path):
    "Issue 14: a renamed class gave a raw traceback; its outputs must never be read as these calls."
    import json
    from safetensors import safe_open
    from safetensors.torch import save_file
    from malaria_fastai.core import write_checksum
    from malaria_fastai.runtime import OnnxCells, write_onnx_meta
    out, _ = trained
    for f in ('model.onnx', 'model.safetensors'): shutil.copy(out/f, tmp_path/f)
    write_checksum(write_onnx_meta(tmp_path/'model.onnx', dict(OnnxCells(out/'model.onnx').meta, vocab=['Infected', 'Uninfected'])))
    with safe_open(str(out/'model.safetensors'), 'pt') as f:
        meta, state = json.loads(f.metadata()['malaria_fastai']), {k: f.get_tensor(k) for k in f.keys()}
    save_file(state, str(tmp_path/'model.safetensors'), {'malaria_fastai': json.dumps(dict(meta, vocab=['Infected', 'Uninfected']))})
    write_checksum(tmp_path/'model.safetensors')
    for engine in ('onnx', 'torch'):
        res = run_cli('predict', cells, '--model', tmp_path/'model.pkl', '--engine', engine, check=False)
        assert res.returncode == 1 and "calls cells ['Infected', 'Uninfected']" in res.stderr, (engine, res.stderr)
        assert 'Traceback' not in res.stderr

def test_names_without_patient_ids_are_said_loudly(trained, cells, tmp_path):
    "Issue 14: the tiny images renamed cellN.png silently became 224 patients and a random 'patient' split."
    from malaria_fastai.data import patient_id
    renamed = tmp_path/'renamed'
    for c in ('Parasitized', 'Uninfected'):
        (renamed/c).mkdir(parents=True)
        for i, f in enumerate(sorted((cells/c).glob('*.png'))): shutil.copy(f, renamed/c/f'cell{i}.png')
    res = run_cli('train', '--data', renamed, '--no-pretrained', '--epochs', 1, '--size', 32, '--out', tmp_path/'run', check=False)
    assert res.returncode != 0 and 'carry no NIH patient id' in res.stderr
    out, _ = trained
    res = run_cli('evaluate', renamed, '--model', out/'model.pkl', '--out', tmp_path/'ev', '--n-boot', 20)
    assert 'PATIENTS UNKNOWN' in res.stderr and '95% intervals by CELL' in res.stdout
    report = json.loads((tmp_path/'ev'/'report.json').read_text())
    assert (report['interval_unit'], report['patients_unknown']) == ('cell', report['n'])
    names = pd.DataFrame([dict(file=f'{c}/cell{i}.png', patient=patient_id(f)) for c in ('Parasitized', 'Uninfected')
                          for i, f in enumerate(sorted((cells/c).glob('*.png')))])
    names.to_csv(tmp_path/'map.csv', index=False)  # with a patient map, the patient logic is back
    run_cli('train', '--data', renamed, '--no-pretrained', '--epochs', 1, '--size', 32, '--out', tmp_path/'run', '--patient-map', tmp_path/'map.csv')
    meta = json.loads((tmp_path/'run'/'model.json').read_text())
    assert set(meta['train_patients'] + meta['valid_patients']) == set(names.patient) and not set(meta['train_patients']) & set(meta['valid_patients'])
    res = run_cli('evaluate', renamed, '--model', out/'model.pkl', '--out', tmp_path/'ev2', '--n-boot', 20, '--patient-map', tmp_path/'map.csv')
    report = json.loads((tmp_path/'ev2'/'report.json').read_text())
    assert (report['interval_unit'], report['patients'], report['leaked_cells'] > 0) == ('patient', 6, True), report

def test_a_pipe_named_png_gets_a_row_and_does_not_hang(cells, tmp_path):
    "Issue 14: a FIFO named *.png in an input folder hung predict forever."
    folder = tmp_path/'in'; folder.mkdir()
    shutil.copy(next((cells/'Parasitized').glob('*.png')), folder/'cell.png')
    os.mkfifo(folder/'pipe.png')
    exe = Path(sys.executable).parent/'malaria-fastai'
    res = subprocess.run([str(exe), 'predict', str(folder), '--out', str(tmp_path/'o.csv')], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    rows = pd.read_csv(tmp_path/'o.csv', keep_default_na=False).set_index('path')
    assert rows.loc[str(folder/'pipe.png'), 'error'].startswith('not a regular file') and rows.loc[str(folder/'cell.png'), 'prediction']

class _FlakyHandler(http.server.SimpleHTTPRequestHandler):
    "Serves files, but the first request for each is cut off halfway (a dropped connection)."
    cut = set()
    def do_GET(self):
        path = Path(self.translate_path(self.path))
        if path.is_file() and self.path not in self.cut:
            self.cut.add(self.path)
            data = path.read_bytes()
            self.send_response(200); self.send_header('Content-Length', str(len(data))); self.end_headers()
            self.wfile.write(data[:len(data)//2]); self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()
    def log_message(self, *args): pass

def test_an_interrupted_download_leaves_nothing_and_is_restarted(cells, tmp_path):
    www = tmp_path/'www'; www.mkdir()
    shutil.make_archive(str(www/'cells'), 'zip', cells.parent, cells.name)
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(_FlakyHandler, directory=str(www)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f'http://127.0.0.1:{httpd.server_address[1]}/cells.zip'
    try:
        res = run_cli('download', '--url', url, '--dest', tmp_path/'data', check=False)
        assert res.returncode != 0 and 'could not download' in res.stderr
        assert list((tmp_path/'data').iterdir()) == []  # no partial file, nothing extracted
        res = run_cli('download', '--url', url, '--dest', tmp_path/'data')
        assert (Path(res.stdout.splitlines()[-1])/'Parasitized').is_dir()
        from malaria_fastai.data import archive_name
        assert (tmp_path/'data'/archive_name(url)).read_bytes() == (www/'cells.zip').read_bytes()
    finally: httpd.shutdown()

def test_evaluate_reports_unreadable_labelled_images_and_goes_on(trained, cells, tmp_path):
    out, _ = trained
    data = tmp_path/'data'
    shutil.copytree(cells, data)
    (data/'Parasitized'/'C1P1_IMG_1_cell_broken.png').write_bytes(b'\x89PNG\r\n\x1a\n broken')
    res = run_cli('evaluate', data, '--model', out/'model.pkl', '--out', tmp_path/'ev', '--n-boot', 20)
    report = json.loads((tmp_path/'ev'/'report.json').read_text())
    assert report['skipped'] == 1 and report['n'] == len(list(cells.rglob('*.png')))
    assert 'C1P1_IMG_1_cell_broken.png' in res.stdout

def test_a_second_run_in_one_folder_is_refused(cells, tmp_path):
    "Issue 14: two trainings into one --out interleaved their history and checkpoints; the folder was then broken for --resume."
    (tmp_path/'run').mkdir()
    (tmp_path/'run'/'.lock').write_text(str(os.getpid()))  # a live process holds it: this test's own
    for cmd in ('train', 'cv'):
        res = run_cli(cmd, '--data', cells, '--no-pretrained', '--epochs', 1, '--size', 32, '--out', tmp_path/'run', check=False)
        assert res.returncode == 1 and f'is in use by process {os.getpid()}' in res.stderr, res.stderr
    assert sorted(p.name for p in (tmp_path/'run').iterdir()) == ['.lock']  # nothing of the refused runs was written

def test_undefined_metrics_are_null_with_a_reason(cells, tmp_path):
    "Issue 14: `evaluate` with an empty Uninfected/ reported specificity 0.000 [0, 0]."
    data = tmp_path/'data'
    shutil.copytree(cells/'Parasitized', data/'Parasitized')
    (data/'Uninfected').mkdir()
    res = run_cli('evaluate', data, '--out', tmp_path/'ev', '--n-boot', 20)
    assert 'specificity n/a (no Uninfected cell)' in res.stdout, res.stdout
    report = json.loads((tmp_path/'ev'/'report.json').read_text())
    for at in ('at_threshold', 'at_0.5'):
        assert report['plain'][at]['specificity'] == dict(value=None, ci95=None, undefined='no Uninfected cell')
        assert 0 < report['plain'][at]['sensitivity']['value'] <= 1
