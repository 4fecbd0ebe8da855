"Whole-field screening through the installed command: every field accounted for, the files it promises, no torch."
import json, subprocess, sys
import pandas as pd
from conftest import run_cli

def test_screen_writes_a_row_per_cell_and_field_and_the_summary(field_photos, tmp_path):
    bad = tmp_path/'broken.jpg'
    bad.write_bytes(b'\xff\xd8\xff not really a JPEG')
    out = tmp_path/'out'
    res = run_cli('screen', field_photos/'folder', bad, field_photos/'two.zip', tmp_path/'missing.jpg', '--out', out)
    fields = pd.read_csv(out/'fields.csv', keep_default_na=False)
    cells = pd.read_csv(out/'cells.csv')
    assert len(fields) == 7  # 3 photos in the folder, the broken one, 2 in the zip, the missing file
    assert sorted(fields.field[fields.error != '']) == sorted([str(bad), str(tmp_path/'missing.jpg')])
    assert fields[fields.error == ''].cells.min() > 50  # each readable field has its cells found
    assert fields.cells.sum() == len(cells) and set(cells.field) == set(fields.field[fields.error == ''])
    assert (cells[['x', 'y']] >= 0).all().all() and (cells.x + cells.w <= 1280).all() and (cells.y + cells.h <= 960).all()
    assert len(list((out/'overlays').glob('*.jpg'))) == 5
    summary = json.loads((out/'summary.json').read_text())
    assert (summary['fields'], summary['fields_unread'], summary['cells']) == (7, 2, len(cells))
    assert summary['parasitized'] == fields.parasitized.sum() and 'Rogan-Gladen' in summary['correction']
    est = summary['parasitemia']  # another hospital's fields, an NIH model: the site check withholds the figure
    assert summary['site_check']['shifted'] and est['value'] is None and 0 <= est['naive'] <= 1, summary['site_check']
    said = [l for l in res.stderr.splitlines() if 'site check:' in l or 'fields screened' in l]
    assert said[0].startswith('site check: shifted') and 'adapt the model' in said[0] and len(said) == 2, res.stderr
    assert '5 of 7 fields screened' in res.stderr and 'parasitemia withheld' in res.stderr

def test_screen_with_no_readable_field_fails_clearly(tmp_path):
    res = run_cli('screen', tmp_path/'none.jpg', '--out', tmp_path/'out', check=False)
    assert res.returncode == 1 and 'no field could be read' in res.stderr
    assert pd.read_csv(tmp_path/'out'/'fields.csv').error.tolist() == ['no such file or folder']

def test_screen_with_the_onnx_twin_never_loads_torch(field_photos, tmp_path):
    code = ("import sys; from malaria_fastai.cli import main\n"
            f"status = main(['screen', {str(field_photos/'two.zip')!r}, '--out', {str(tmp_path/'o')!r}, '--no-overlays'])\n"
            "print(status, sorted(m for m in ('torch', 'fastai') if m in sys.modules))")
    res = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert res.stdout.strip().endswith("0 []"), res.stdout + res.stderr
    assert not (tmp_path/'o'/'overlays').exists()

def test_adapt_writes_a_model_that_screen_and_predict_accept(field_photos, tmp_path):
    site = tmp_path/'site'
    res = run_cli('adapt', field_photos/'folder', '--annotations', field_photos/'annotations.json', '--folds', 2,
                  '--epochs', 1, '--bs', 32, '--out', site)
    assert '3 fields' in res.stdout and 'out of fold, by field' in res.stdout
    report = json.loads((site/'site.json').read_text())
    assert report['grouped_by'] == 'field' and report['fields'] == 3 and report['matched'] <= report['annotated']
    folds = pd.read_csv(site/'cv'/'folds.csv')
    assert folds.groupby('patient').fold.nunique().max() == 1  # no field on both sides of a fold
    cells = pd.read_csv(site/'cells.csv', keep_default_na=False)
    assert len(cells) == report['annotated'] and (cells.file != '').sum() == report['matched']
    crops = sorted((site/'cells'/'Parasitized').glob('*.png'))[:3]
    run_cli('predict', *crops, '--model', site/'model.pkl', '--csv', tmp_path/'p.csv')
    assert len(pd.read_csv(tmp_path/'p.csv').prediction.dropna()) == 3
    run_cli('screen', field_photos/'two.zip', '--model', site/'model.onnx', '--out', tmp_path/'screen')
    summary = json.loads((tmp_path/'screen'/'summary.json').read_text())
    assert "this site's annotated fields" in summary['correction'] and summary['threshold'] == report['threshold']
