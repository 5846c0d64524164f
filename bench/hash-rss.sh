#!/bin/sh
# Peak RSS of the cold 60k-file hash, measured by the kernel: bench/hash-rss.sh [DIR to keep data in]
# Runs after `npx tsc -p .`; generates the data first (not measured), then measures one cold run.
set -e
cd "$(dirname "$0")/.."
DIR=${1:-/tmp/lockstep-hashcache-bench}
node dist/bench/hash.js --keep "$DIR" --only none --big-mib 0 >/dev/null
/usr/bin/time -v node dist/bench/hash.js --keep "$DIR" --only cold --runs 1 --big-mib 0 2>&1 | grep -E 'cold hash|Maximum resident|Elapsed'
