#!/usr/bin/env bash
# The >90.77% preset of issue 19 on all three partitions (48,000 training images), on tfjs-node: the `air` model
# (airbench94's widths behind a frozen patch-whitening convolution), Nesterov SGD over 16 epochs with airbench94's
# parts (its schedule from 0.2x up over 23% of the steps and down to 0.07x, Lookahead, frozen batch-norm scales with
# 64x faster shifts, Dirac initialisation, a 2-pixel mirrored translation, alternating flips), label smoothing 0.2,
# weight decay, and airbench's flip-and-translate test-time augmentation (stages/TRAIN.md, "The 91% preset"; seeds
# 42, 43, 44 gave 90.78% on average in 55-56 min each on an AVX-512 machine with libtensorflow 2.10.1, and
# 91.16% with 2.18 (91.35%, 91.08%, 91.03%); with the training step as one TensorFlow graph, the default since,
# seeds 42 and 43 gave 91.23% and 91.13%, seed 43 in 52 min; on an AVX2 one 16 epochs take over 2 hours). Recorded as the experiment
# air91-s<seed>; prints the time, test accuracy and macro F1.
#   scripts/preset-91.sh [--seed N] [more exp run arguments, e.g. -S train.epochs=12]
# Needs tfjs-node (npm ci, then scripts/tfjs-node-from-registries.sh where its download fails): the backend is
# forced to `node`, so a machine without it fails at once instead of training for hours on wasm.
set -euo pipefail
cd "$(dirname "$0")/.."
seed=42
if [[ "${1:-}" == "--seed" ]]; then
  seed="${2:?--seed needs a value}"
  shift 2
fi
name="air91-s${seed}"
start=$(date +%s)
node bin/lockstep.js exp run -n "$name" --data v1+v2+v3 --seed "$seed" \
  -S train.model=air -S train.backend=node -S train.optimizer=sgd -S train.momentum=0.85 \
  -S train.schedule=airbench -S train.warmup_epochs=3.68 -S train.epochs=16 -S train.batch_size=128 -S train.lr=0.2 \
  -S train.weight_decay=0.0013 -S train.label_smoothing=0.2 -S train.early_stopping_patience=0 \
  -S train.translate=2 -S train.pad_mode=reflect -S train.flip=alternate -S train.lookahead=true \
  -S train.bn_frozen_scale=true -S train.bn_bias_lr_scale=64 -S train.dirac_init=true \
  -S evaluate.backend=node -S evaluate.tta=flip-translate "$@"
seconds=$(($(date +%s) - start))
node bin/lockstep.js exp show --json | node -e '
  const [name, seconds] = process.argv.slice(1);
  const rows = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
  const row = rows.find((r) => r.type === "experiment" && r.name === name);
  if (!row) { console.error(`lockstep: experiment ${name} not found in exp show. Run: lockstep exp show`); process.exit(1); }
  const m = row.metrics ?? {};
  const ev = m["metrics/eval.json"] ?? {};
  const sp = m["metrics/train_speed.json"] ?? {};
  const hms = (s) => `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m${String(s % 60).padStart(2, "0")}s`;
  console.log(`${name}: test accuracy ${ev.accuracy}, macro F1 ${ev.macro_f1}, in ${hms(Number(seconds))}` +
    (sp.train_seconds ? ` (training ${sp.train_seconds} s at ${sp.images_per_sec} images/s)` : ""));
' "$name" "$seconds"
