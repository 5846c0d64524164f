#!/usr/bin/env bash
# The >=85% preset of issue 3, on all three partitions (48,000 training images): the airbench-style
# `fast` model, Nesterov SGD on a one-cycle schedule, label smoothing, weight decay, and flip
# test-time augmentation. Recorded as one experiment (see `lockstep exp show`); about two hours of
# training on 2 cores with the wasm backend. Extra arguments go to `exp run` (e.g. -S train.epochs=20).
set -euo pipefail
cd "$(dirname "$0")/.."
exec node bin/lockstep.js exp run -n fast85 --data v1+v2+v3 \
  -S train.model=fast -S train.optimizer=sgd -S train.momentum=0.9 -S train.schedule=onecycle \
  -S train.warmup_epochs=2 -S train.epochs=15 -S train.lr=0.2 -S train.weight_decay=0.0005 \
  -S train.label_smoothing=0.1 -S train.early_stopping_patience=0 -S evaluate.tta=flip "$@"
