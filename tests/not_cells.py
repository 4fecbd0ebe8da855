"""A corpus of images that are not single-cell crops like the NIH training cells, made here (no outside images):
blank squares, noise, gradients, checkerboards, screenshots of text, plots, synthetic whole fields of many cells,
stripes, and images too small or too long to be a crop. Used by tests/test_input_check.py and
benchmarks/input_check.py."""
import io
from pathlib import Path
import numpy as np
from PIL import Image, ImageDraw

def _blank(rng, i):
    colour = [(0, 0, 0), (255, 255, 255), (128, 128, 128), (200, 60, 60), (190, 150, 160)][i % 5]
    side = int(rng.integers(40, 300))
    return Image.new('RGB', (side, side), colour)

def _noise(rng, i):
    side = int(rng.integers(40, 300))
    kinds = [lambda: rng.integers(0, 256, (side, side, 3)), lambda: rng.normal(128, 40, (side, side, 1)).repeat(3, 2),
             lambda: rng.normal((190, 150, 160), 25, (side, side, 3))]
    return Image.fromarray(np.clip(kinds[i % 3](), 0, 255).astype(np.uint8))

def _gradient(rng, i):
    side = int(rng.integers(40, 300))
    x = np.linspace(0, 1, side)
    a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    return Image.fromarray((x[:, None, None] * a + x[None, :, None] * b).clip(0, 255).astype(np.uint8) // 2 * 2)

def _checker(rng, i):
    side, k = int(rng.integers(40, 300)), int(rng.integers(3, 30))
    board = ((np.arange(side)[:, None] // k + np.arange(side)[None] // k) % 2).astype(np.uint8) * 255
    return Image.fromarray(np.stack([board] * 3, -1))

def _stripes(rng, i):
    side, k = int(rng.integers(40, 300)), int(rng.integers(2, 20))
    rows = (np.arange(side) // k % 2)[:, None].repeat(side, 1).astype(np.uint8)
    return Image.fromarray(np.stack([rows * int(c) for c in rng.integers(60, 256, 3)], -1))

def _screenshot(rng, i):
    w, h = int(rng.integers(120, 1400)), int(rng.integers(100, 900))
    im = Image.new('RGB', (w, h), tuple(int(v) for v in rng.integers(200, 256, 3)))
    draw = ImageDraw.Draw(im)
    for _ in range(40):
        draw.text((int(rng.integers(0, w)), int(rng.integers(0, h))), 'Patient 0042 - thin smear - parasitemia 1.2%',
                  fill=tuple(int(v) for v in rng.integers(0, 120, 3)))
    draw.rectangle([5, 5, w // 3, h // 4], outline=(40, 90, 200), width=3)
    return im

def _plot(rng, i):
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(rng.uniform(1.5, 6), rng.uniform(1.5, 4)), dpi=60)
    ax.plot(np.cumsum(rng.normal(size=50))); ax.set_title('loss')
    buf = io.BytesIO(); fig.savefig(buf, format='png'); plt.close(fig)
    return Image.open(io.BytesIO(buf.getvalue())).convert('RGB')

def _field(rng, i):
    "A synthetic whole microscope field: many pale pink cells on a light background."
    w, h = (1280, 960) if i % 2 else (1600, 1200)
    im = Image.new('RGB', (w, h), (225, 215, 220))
    draw = ImageDraw.Draw(im)
    for _ in range(150):
        x, y, r = int(rng.integers(0, w)), int(rng.integers(0, h)), int(rng.integers(30, 45))
        draw.ellipse([x - r, y - r, x + r, y + r], fill=tuple(int(v) for v in rng.normal((200, 150, 165), 10)), outline=(170, 120, 140))
    return im

def _odd_shape(rng, i):
    "Too small for a crop, or far from square."
    sizes = [(1, 1), (5, 5), (12, 9), (400, 60), (30, 200)]
    w, h = sizes[i % len(sizes)]
    return Image.fromarray(rng.integers(0, 256, (h, w, 3)).astype(np.uint8))

def _masked(rng, fill):
    "An NIH-style crop: a roughly round object masked on black, filled by `fill(rng, mask)`."
    side = int(rng.integers(90, 160))
    yy, xx = np.mgrid[:side, :side]
    angle = np.arctan2(yy - side / 2, xx - side / 2)
    radius = side * (0.36 + 0.05 * np.sin(3 * angle + rng.uniform(0, 6)))
    mask = (yy - side / 2) ** 2 + (xx - side / 2) ** 2 < radius ** 2
    px = np.zeros((side, side, 3))
    px[mask] = fill(rng, mask)
    return Image.fromarray(px.clip(0, 255).astype(np.uint8))

def _lookalike(rng, i):
    "Not a red blood cell, cut like one: a stain blob, a bubble, a speckled or a blue-green object masked on black."
    fills = [lambda rng, m: rng.normal((90, 40, 110), 12, (m.sum(), 3)),  # stain precipitate
             lambda rng, m: rng.normal((215, 215, 215), 6, (m.sum(), 3)),  # an air bubble
             lambda rng, m: rng.uniform(40, 255, (m.sum(), 3)),  # speckled debris
             lambda rng, m: rng.normal((80, 170, 160), 10, (m.sum(), 3))]  # a blue-green object, not Giemsa pink
    return _masked(rng, fills[i % len(fills)])

KINDS = dict(blank=_blank, noise=_noise, gradient=_gradient, checker=_checker, stripes=_stripes, screenshot=_screenshot,
             plot=_plot, field=_field, odd_shape=_odd_shape)
LOOKALIKES = dict(lookalike=_lookalike)  # cut like NIH crops: what simple statistics may miss (benchmarks/input_check.py)

def write_not_cells(dest:Path, per_kind:int=10, seed:int=0, kinds:dict=KINDS) -> list[Path]:
    "Write `per_kind` images of each of `kinds` into `dest` as `<kind>_<i>.png`; return their paths."
    rng, dest = np.random.default_rng(seed), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind, make in kinds.items():
        for i in range(per_kind):
            paths.append(dest/f'{kind}_{i}.png')
            make(rng, i).save(paths[-1])
    return paths
