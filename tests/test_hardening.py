"""The second hardening round as users meet it, through the console script: numbers that are not numbers, runs that
would read their own outputs, fields with no cells, a disk that fills up, and models named in odd ways."""
import json, resource, shutil, subprocess, sys
from pathlib import Path
import pytest
from PIL import Image
from conftest import run_cli

NOT_A_NUMBER = [('predict', 'cells', '--threshold'), ('screen', 'fields', '--threshold'), ('screen', 'fields', '--rbc-per-ul'),
                ('train', None, '--lr'), ('train', None, '--balance'), ('train', None, '--target-sensitivity'),
                ('serve', None, '--max-upload-mb'), ('adapt', 'fields', '--lr')]

@pytest.mark.parametrize('command,arg,flag', NOT_A_NUMBER)
@pytest.mark.parametrize('value', ['nan', 'inf'])
def test_a_float_flag_takes_only_finite_numbers(command, arg, flag, value, tmp_path):
    res = run_cli(command, *([tmp_path] if arg else []), flag, value, check=False)
    assert res.returncode == 2 and f"{flag}: '{value}' is not a finite number" in res.stderr, res.stderr

def _json(path:Path):
    "A JSON file read as strict JSON: NaN or Infinity in it fails."
    def refuse(c): raise AssertionError(f'{path} holds {c}, which is not JSON')
    return json.loads(Path(path).read_text(), parse_constant=refuse)

def test_screen_never_reads_its_own_outputs(field_photos, tmp_path):
    fields = tmp_path/'fields'
    shutil.copytree(field_photos/'folder', fields)
    for _ in range(2): run_cli('screen', fields, '--out', fields/'res')
    summary = _json(fields/'res'/'summary.json')
    assert summary['fields'] == 3 and len(list((fields/'res'/'overlays').glob('*.jpg'))) == 3, summary

def test_a_field_with_no_cells_says_so_and_writes_json(tmp_path):
    for colour in ('white', 'black', (190, 120, 150)): Image.new('RGB', (640, 480), colour).save(tmp_path/f'{colour}.png')
    Image.new('RGB', (10, 10), 'white').save(tmp_path/'tiny.png')
    Image.new('RGB', (1, 100_000), (200, 150, 150)).save(tmp_path/'strip.png')  # too long for a JPEG overlay
    res = run_cli('screen', tmp_path, '--out', tmp_path/'res')
    summary = _json(tmp_path/'res'/'summary.json')
    assert summary['fields'] == 5, summary  # every field, the strip too, is in the summary
    assert summary['parasitemia']['value'] is None and 'no cell was counted' in summary['parasitemia']['undefined']
    assert 'parasitemia not known: no cell was counted' in res.stderr and 'nan' not in res.stderr

def _small_files(limit:int):
    "For a child process: no file it writes may pass `limit` bytes (as a full disk would stop it; Python ignores SIGXFSZ)."
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

def test_a_disk_that_fills_up_leaves_no_truncated_overlay_and_the_counts_written(field_photos, tmp_path):
    exe = Path(sys.executable).parent/'malaria-fastai'
    res = subprocess.run([str(exe), 'screen', field_photos/'folder', '--out', tmp_path/'res'], capture_output=True, text=True,
                         preexec_fn=_small_files(150_000))  # the counts fit, a 1280x960 overlay does not
    assert res.returncode == 0 and 'Traceback' not in res.stderr, res.stderr
    summary = _json(tmp_path/'res'/'summary.json')
    assert summary['fields'] == 3 and len(summary['overlays_not_written']) == 3, summary
    assert 'File too large' in summary['overlays_not_written'][0]
    assert list((tmp_path/'res'/'overlays').iterdir()) == []  # neither a truncated JPEG nor a temporary file
    assert (tmp_path/'res'/'cells.csv').stat().st_size > 1000 and (tmp_path/'res'/'fields.csv').exists()

def test_a_model_named_by_its_folder_or_by_a_wrong_file_is_understood(cells, tmp_path):
    from malaria_fastai.core import default_model
    folder = Path(default_model()).parent
    ok = run_cli('predict', cells, '--model', folder, '--out', tmp_path/'rows.csv')
    assert 'classified 224 of 224 files' in ok.stderr, ok.stderr
    (tmp_path/'notes.md').write_text('# not a model')
    res = run_cli('predict', cells, '--model', tmp_path/'notes.md', check=False)
    assert res.returncode == 1 and 'notes.md is not a model: give an export (.pkl)' in res.stderr, res.stderr
    res = run_cli('predict', cells, '--model', tmp_path, check=False)
    assert res.returncode == 1 and 'no model in the folder' in res.stderr, res.stderr

def test_a_broken_onnx_model_is_refused_with_its_name(cells, tmp_path):
    from malaria_fastai.core import default_model, write_checksum
    twin = Path(default_model()).with_suffix('.onnx')
    (tmp_path/'model.onnx').write_bytes(twin.read_bytes()[:5000]); write_checksum(tmp_path/'model.onnx')
    res = run_cli('predict', cells, '--model', tmp_path/'model.onnx', check=False)
    assert res.returncode == 1 and 'cannot be opened as an ONNX model' in res.stderr and 'Traceback' not in res.stderr, res.stderr

def test_a_malformed_annotation_file_is_named_before_any_work(field_photos, tmp_path):
    bad = tmp_path/'marks.json'
    bad.write_text(json.dumps([dict(image_name='a.jpg', objects=[dict(type='ring', bbox=dict(x=1, y=2, w='inf', h=3))])]))
    res = run_cli('adapt', field_photos/'folder', '--annotations', bad, '--out', tmp_path/'site', check=False)
    assert res.returncode == 1 and 'Traceback' not in res.stderr, res.stderr
    assert f"{bad}: entry 0 ('a.jpg'), object 0: its bbox w is 'inf', not a finite number" in res.stderr, res.stderr
    assert not (tmp_path/'site').exists()

def test_a_disk_full_under_the_results_is_an_error_not_a_traceback(cells, tmp_path):
    exe = Path(sys.executable).parent/'malaria-fastai'
    res = subprocess.run([str(exe), 'predict', cells, '--out', tmp_path/'rows.csv'], capture_output=True, text=True,
                         preexec_fn=_small_files(4_000))  # 224 rows do not fit in 4 KB
    assert res.returncode == 1 and 'Traceback' not in res.stderr and 'File too large' in res.stderr, res.stderr
    assert not (tmp_path/'rows.csv').exists()  # no half-written table
