#!/usr/bin/env bash
# The seed x partition study of issue 4: 3 seeds x 5 data choices = 15 experiments, then the tables.
# Usage: scripts/sweep.sh [extra exp run args…]   (JOBS=N sets how many run at once, default 2)
# Stages identical across experiments run once (pull, partition for the whole sweep); the rest are
# restored from the shared run-cache when another experiment already computed them.
set -uo pipefail
cd "$(dirname "$0")/.."
LOCKSTEP=(node bin/lockstep.js)
status=0
"${LOCKSTEP[@]}" exp run --seed 42,100,2025 --data v1,v2,v3,v1+v2,v1+v2+v3 -j "${JOBS:-2}" "$@" || status=$?
# one row per experiment: what differs, and the headline test metrics (per-class ones are in --json/--csv)
"${LOCKSTEP[@]}" exp show --only-changed --drop '^per_class\.' --sort-by accuracy --sort-order desc
# how the data choice moves accuracy, over the seeds
"${LOCKSTEP[@]}" exp show --group-by data --agg mean,std,min,max --keep '^(accuracy|macro_f1|loss|best_val_acc):'
exit "$status"
