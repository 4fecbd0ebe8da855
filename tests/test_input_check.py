"The input check in front of the classifier (issue 13): images that are not single-cell crops are flagged and referred; cells are not."
import pandas as pd
from conftest import run_cli
from not_cells import write_not_cells, KINDS

def _rows(tmp_path, *args):
    out = tmp_path/'rows.csv'
    run_cli('predict', *args, '--out', out)
    return pd.read_csv(out, keep_default_na=False)

def test_shipped_model_flags_what_is_not_a_cell(tmp_path):
    write_not_cells(tmp_path/'odd', per_kind=6)
    for engine in ('onnx', 'torch'):
        df = _rows(tmp_path, tmp_path/'odd', '--engine', engine)
        assert len(df) == 6 * len(KINDS) and (df.error == '').all()
        flagged = df.flag != ''
        assert flagged.mean() >= 0.95, df[~flagged].path.tolist()
        assert df.refer[flagged].all()  # a flagged image is always referred
        fields = df[df.path.str.contains('field_')]
        assert fields.flag.str.startswith('not a single cell: size').all(), fields.flag.tolist()

def test_shipped_model_passes_real_cells(tmp_path, cells):
    df = _rows(tmp_path, cells)
    assert (df.flag != '').mean() <= 0.01, df[df.flag != ''][['path', 'flag']]
    assert len(_rows(tmp_path, cells, '--no-check').query("flag != ''")) == 0

def test_trained_model_carries_its_check(tmp_path, trained):
    out, _ = trained
    write_not_cells(tmp_path/'odd', per_kind=3)
    df = _rows(tmp_path, tmp_path/'odd', '--model', out/'model.pkl')
    assert (df.flag != '').mean() >= 0.9, df[df.flag == ''].path.tolist()

def test_both_engines_flag_by_the_models_features(trained, cells):
    "The feature distance runs on the ONNX twin and on torch alike: with a strict limit both flag the same cells."
    import numpy as np
    from malaria_fastai.core import cell_pixels
    from malaria_fastai.data import cell_files
    from malaria_fastai.inference import load_model, predict
    from malaria_fastai.runtime import InputCheck, OnnxCells, predict_onnx
    out, _ = trained
    learn, twin = load_model(out/'model.pkl'), OnnxCells(out/'model.onnx')
    files = cell_files(cells)[::4]
    features = twin.scores(np.stack([cell_pixels(f, twin.size) for f in files]))[1]
    limit = float(np.median(InputCheck.from_meta(twin.meta).features.distance(features)))  # about half the cells lie beyond
    for meta in (twin.meta, learn.meta): meta['input_check']['features']['limit'] = limit
    by_onnx, by_torch = pd.DataFrame(predict_onnx(files, twin)), predict(files, learn)
    far = by_onnx.flag.str.endswith('(its features)')
    assert 0.3 <= far.mean() <= 0.7 and by_onnx.refer[far].all(), by_onnx.flag.value_counts()
    assert (by_onnx.flag == by_torch.flag).mean() >= 0.95, pd.concat([by_onnx.flag, by_torch.flag], axis=1)
