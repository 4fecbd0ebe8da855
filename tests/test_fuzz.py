"Random and mutated image bytes through the decode path of both predictors: a prediction or a per-file error, never a crash, a hang or a memory blow-up."
import io, resource
from pathlib import Path
import numpy as np, pytest
from hypothesis import given, settings, HealthCheck, strategies as st
from PIL import Image

@pytest.fixture(scope='module')
def engines(trained):
    "The torch and ONNX probability functions of the trained test model, and its input size."
    from malaria_fastai.inference import load_model
    from malaria_fastai.learner import cell_scores, preprocessing
    from malaria_fastai.runtime import OnnxCells
    out, _ = trained
    learn = load_model(out/'model.pkl')
    onnx = OnnxCells(out/'model.onnx')
    return {'torch': lambda px: cell_scores(learn)(px)[0], 'onnx': lambda px: onnx.scores(px)[0]}, preprocessing(learn)[0]

def _seed_png() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 36, 3), dtype=np.uint8)).save(buf, 'PNG')
    return buf.getvalue()

SEED = _seed_png()

@st.composite
def image_bytes(draw):
    "Bytes that look more or less like an image: random, or a real PNG with bytes flipped, cut or its header forged."
    kind = draw(st.sampled_from(['random', 'flip', 'cut', 'header']))
    if kind == 'random': return draw(st.binary(max_size=4096))
    data = bytearray(SEED)
    if kind == 'cut': return bytes(data[:draw(st.integers(0, len(data)))])
    if kind == 'header':  # forge the width and height in the IHDR chunk: up to 2**31 - 1 pixels a side
        data[16:24] = draw(st.integers(1, 2**31 - 1)).to_bytes(4, 'big') + draw(st.integers(1, 2**31 - 1)).to_bytes(4, 'big')
        return bytes(data)
    for _ in range(draw(st.integers(1, 20))): data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)

@pytest.mark.parametrize('engine', ['torch', 'onnx'])
def test_fuzzed_bytes_give_a_row_each(engines, tmp_path_factory, engine):
    from malaria_fastai.runtime import classify
    fns, size = engines
    folder = tmp_path_factory.mktemp(f'fuzz-{engine}')
    @settings(max_examples=120, deadline=5000, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(data=image_bytes(), suffix=st.sampled_from(['.png', '.jpg', '.tif', '.bmp', '.gif', '']))
    def run(data, suffix):
        f = folder/f'case{suffix}'
        f.write_bytes(data)
        rows = classify([f], fns[engine], size)
        assert len(rows) == 1
        row = rows[0]
        assert (row['prediction'] != '') != (row['error'] != ''), row
        if row['prediction']: assert 0 <= row['prob_parasitized'] <= 1
    run()
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    assert peak_gib < 4, f'peak memory {peak_gib:.1f} GiB'
