"""Training and inference images/s of the train stage's `seed` and `fast` CNNs in TensorFlow/Keras or PyTorch
on CPU, for bench/train-compare.ts (which runs it from a venv it makes). The layers mirror
stages/lib/tf/models.ts; input is one random batch of 32x32x3 images and labels, reused every step (throughput
does not depend on the values). Prints one JSON line: {"train": [img/s per repeat], "infer": [img/s per repeat],
"train_cpu": [CPU ms per batch per repeat, all threads of the process], "infer_cpu": [...]}.

  python bench/frameworks_throughput.py --framework keras|torch --model seed|fast [--batch 128] [--threads 2]
         [--steps 10] [--repeat 3] [--warmup 3]
"""
import argparse
import json
import os
import time


def keras_model(name):
    import keras
    from keras import layers

    def conv(width, bias=True, **kw):
        return layers.Conv2D(width, 3, padding="same", use_bias=bias, activation="relu" if bias else None, **kw)

    if name == "seed":
        stack = [keras.Input((32, 32, 3))]
        for w in (32, 64, 128):
            stack += [conv(w), layers.MaxPooling2D(2)]
        stack += [layers.Flatten(), layers.Dense(256, activation="relu"), layers.Dropout(0.5),
                  layers.Dense(10, activation="softmax")]
    else:
        stack = [keras.Input((32, 32, 3)), conv(24)]
        for w in (32, 64, 128):
            stack += [conv(w, bias=False), layers.MaxPooling2D(2), layers.BatchNormalization(momentum=0.9),
                      layers.ReLU(), conv(w, bias=False), layers.BatchNormalization(momentum=0.9), layers.ReLU()]
        stack += [layers.MaxPooling2D(4), layers.Flatten(), layers.Dense(10, activation="softmax")]
    model = keras.Sequential(stack)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
    return model


def torch_model(name):
    from torch import nn

    def conv(cin, cout, bias=True):
        c = nn.Conv2d(cin, cout, 3, padding=1, bias=bias)
        return [c, nn.ReLU()] if bias else [c]

    if name == "seed":
        mods, cin = [], 3
        for w in (32, 64, 128):
            mods += conv(cin, w) + [nn.MaxPool2d(2)]
            cin = w
        mods += [nn.Flatten(), nn.Linear(128 * 4 * 4, 256), nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, 10)]
    else:
        mods, cin = conv(3, 24), 24
        for w in (32, 64, 128):
            # Keras momentum 0.9 is PyTorch momentum 0.1; epsilon as Keras' 1e-3.
            mods += conv(cin, w, False) + [nn.MaxPool2d(2), nn.BatchNorm2d(w, 1e-3, 0.1), nn.ReLU()]
            mods += conv(w, w, False) + [nn.BatchNorm2d(w, 1e-3, 0.1), nn.ReLU()]
            cin = w
        mods += [nn.MaxPool2d(4), nn.Flatten(), nn.Linear(128, 10)]
    return nn.Sequential(*mods)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--framework", choices=["keras", "torch"], required=True)
    p.add_argument("--model", choices=["seed", "fast"], default="seed")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--warmup", type=int, default=3)
    a = p.parse_args()

    import numpy as np

    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (a.batch, 32, 32, 3)).astype("float32")
    labels = rng.integers(0, 10, a.batch)

    if a.framework == "keras":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(a.threads)
        tf.config.threading.set_inter_op_parallelism_threads(a.threads)
        model = keras_model(a.model)
        y = np.eye(10, dtype="float32")[labels]

        def step():
            model.train_on_batch(x, y)

        def infer():
            model.predict_on_batch(x)

        version = f"tensorflow {tf.__version__}"
    else:
        import torch

        torch.set_num_threads(a.threads)
        model = torch_model(a.model)
        opt = torch.optim.Adam(model.parameters(), 1e-3)
        loss_fn = torch.nn.CrossEntropyLoss()
        xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
        yt = torch.from_numpy(labels)

        def step():
            model.train()
            opt.zero_grad()
            loss = loss_fn(model(xt), yt)
            loss.backward()
            opt.step()
            loss.item()

        def infer():
            model.eval()
            with torch.no_grad():
                model(xt).numpy()

        version = f"torch {torch.__version__}"

    for _ in range(a.warmup):
        step()
    def timed(f):
        rates, cpu = [], []
        for _ in range(a.repeat):
            c0, t0 = time.process_time(), time.perf_counter()
            for _ in range(a.steps):
                f()
            rates.append(a.batch * a.steps / (time.perf_counter() - t0))
            cpu.append((time.process_time() - c0) * 1000 / a.steps)
        return rates, cpu

    train, train_cpu = timed(step)
    infer()
    inference, infer_cpu = timed(infer)
    print(json.dumps({"version": version, "train": train, "infer": inference, "train_cpu": train_cpu,
                      "infer_cpu": infer_cpu}))


if __name__ == "__main__":
    main()
