#!/usr/bin/env bash
# The project's CIFAR-10 pipeline from nothing, one stage at a time, each under /usr/bin/time -v:
# wall time and peak RSS per stage, the total, and the test accuracy (issue 3's benchmark).
#   npm run build && bench/pipeline.sh [-S key=value ...]     e.g. -S data=v1+v2+v3
# It runs in a fresh clone beside this one (WORK, default ../lockstep-bench-pipeline, so the
# default mirror file://../shared/datasets/ resolves), with this checkout's node_modules and dist.
# -S edits params.yaml of the clone (top-level or dotted keys, YAML values).
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-$SRC/../lockstep-bench-pipeline}
rm -rf "$WORK"
git clone -q "$SRC" "$WORK"
ln -s "$SRC/node_modules" "$WORK/node_modules"
cp -r "$SRC/dist" "$WORK/dist"
cd "$WORK"
while [ $# -gt 0 ]; do
  [ "$1" = "-S" ] || { echo "usage: bench/pipeline.sh [-S key=value ...]" >&2; exit 2; }
  node -e '
    const fs = require("fs"); const YAML = require("yaml");
    const [key, ...rest] = process.argv[1].split("="); const doc = YAML.parseDocument(fs.readFileSync("params.yaml", "utf8"));
    doc.setIn(key.split("."), YAML.parse(rest.join("="))); fs.writeFileSync("params.yaml", String(doc));' "$2"
  shift 2
done
echo "load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ), commit $(git -C "$SRC" rev-parse --short HEAD)"
printf '%-10s %10s %12s\n' stage 'wall (s)' 'peak RSS MB'
total=0
for stage in pull partition prepare train evaluate; do
  if ! /usr/bin/time -v node bin/lockstep.js repro -s "$stage" > "log.$stage" 2> "time.$stage"; then
    echo "stage $stage failed; see $WORK/log.$stage and $WORK/time.$stage" >&2
    exit 1
  fi
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; print s}' "time.$stage")
  rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "time.$stage")
  total=$(awk -v a="$total" -v b="$wall" 'BEGIN {print a + b}')
  printf '%-10s %10.1f %12s\n' "$stage" "$wall" "$rss"
done
printf '%-10s %10.1f\n' total "$total"
grep -h "images/s" log.train | tail -1 || true
node -e 'const m = require("./metrics/eval.json"); console.log(`test accuracy ${m.accuracy}, macro F1 ${m.macro_f1} (${m.test_images} images)`)'
