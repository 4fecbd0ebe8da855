"""Training throughput at equal settings (ResNet18 from scratch, bs 64, flips, 64 and 128 px), in one run:
the in-memory training-step ceiling (forward, backward and optimizer step on a batch already in memory), our
`cell_dataloaders` fast path, and plain fastai (`ImageDataLoaders.from_folder`, per-item decoding in workers).

    python benchmarks/training_throughput.py [--data FOLDER] [--batches 60]
"""
import argparse, time, warnings
import torch
from _common import data_folder, machine

def main():
    p = argparse.ArgumentParser(); p.add_argument('--data', default=None); p.add_argument('--batches', type=int, default=60)
    args = p.parse_args()
    warnings.filterwarnings('ignore')
    from fastai.vision.all import (Callback, CancelFitException, ImageDataLoaders, Resize, ResizeMethod, Normalize, Flip,
                                   imagenet_stats, vision_learner, resnet18, set_seed)
    from malaria_fastai.data import cell_dataloaders, RandomFlips
    from malaria_fastai.learner import cell_learner
    root = data_folder(args.data)

    class Timer(Callback):
        "Time `n` training batches after `warm` warm-up ones, then stop."
        def __init__(self, n, warm=5): self.n, self.warm, self.i = n, warm, 0
        def after_batch(self):
            if not self.training: return
            self.i += 1
            if self.i == self.warm: self.t = time.perf_counter()
            if self.i == self.warm + self.n: self.s = time.perf_counter() - self.t; raise CancelFitException

    def run(learn):
        timer = Timer(args.batches)
        learn.fit(1, 1e-3, cbs=timer)
        return args.batches * 64 / timer.s

    def ceiling(learn):
        "The same model, loss and fastai optimizer stepping on one batch held in memory: no data work at all."
        x, y = (t.as_subclass(torch.Tensor) for t in learn.dls.one_batch())
        learn.create_opt()
        model, opt, loss_func = learn.model.train(), learn.opt, learn.loss_func
        for i in range(args.batches + 5):
            if i == 5: t = time.perf_counter()
            loss = loss_func(model(x), y); loss.backward(); opt.step(); opt.zero_grad()
        return args.batches * 64 / (time.perf_counter() - t)

    print(f"# training throughput, ResNet18 from scratch, bs 64, {args.batches} timed batches each, data {root}\n# {machine()}, torch threads {torch.get_num_threads()}")
    for size in (64, 128):
        set_seed(42)
        fast = cell_dataloaders(root, size=size, bs=64)
        learn = cell_learner(fast, 'resnet18', pretrained=False)
        ours = run(learn)
        ceil = ceiling(cell_learner(fast, 'resnet18', pretrained=False))
        plain_dls = ImageDataLoaders.from_folder(root, valid_pct=0.2, seed=42, bs=64, item_tfms=Resize(size, ResizeMethod.Squish),
                                                 batch_tfms=[Flip(), Normalize.from_stats(*imagenet_stats)])
        plain = run(vision_learner(plain_dls, resnet18, pretrained=False))
        print(f"{size:4d} px: ceiling {ceil:6.1f} img/s | ours (fast path) {ours:6.1f} img/s = {ours/ceil:.2f} of ceiling | "
              f"plain fastai {plain:6.1f} img/s = {plain/ceil:.2f} of ceiling | ours/plain {ours/plain:.2f}x")

if __name__ == '__main__': main()
