#!/bin/bash
# Issue 15's targets in one pass, one build, with a verdict per row (bench/README.md, "Issue 15").
#
#   REAL=<project after repro> BIG=<60,000-file project> MANY=<500-stage project> [SMALL=...] [RUNS=7] bench/targets.sh
#
# REAL: the project's own pipeline after `lockstep repro prepare` (data/raw and data/partitions, 120,017 files).
# BIG and MANY: what `node dist/bench/engine.js --dir X` leaves (60,000 files in X, 500 stages in X/many); copy
# them apart (`cp -al X BIG && mv BIG/many MANY`), or a nested pipeline in BIG/many would count in BIG's rows.
# SMALL: a two-stage project (default: a fresh one in a temp folder). Every command is warmed twice first; then
# RUNS runs each, one after the other, timed by GNU time (wall, peak RSS); cold `status` removes the stat and
# parse caches before each of its runs. Prints per row the median and the range of the wall times, the highest
# peak RSS, the target and the load average (1 minute) before the row. `exp run` overhead comes from
# dist/bench/exp.js (10 no-op experiments in a sweep, -j 1). The node on PATH runs everything.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
: "${REAL:?REAL=<the project after repro prepare>}" "${BIG:?BIG=<the 60,000-file project>}" "${MANY:?MANY=<500 stages>}"
RUNS=${RUNS:-7}
LS=(node "$REPO/bin/lockstep.js")
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if [[ -z ${SMALL:-} ]]; then
  SMALL=$(mktemp -d)
  (cd "$SMALL" && git init -q && printf 'stages:\n  a:\n    cmd: echo 1 > a.txt\n    outs: [a.txt]\n  b:\n    cmd: cat a.txt > b.txt\n    deps: [a.txt]\n    outs: [b.txt]\n' > pipeline.yaml && "${LS[@]}" repro -q >/dev/null)
fi
echo "node $(node --version), lockstep $(git -C "$REPO" rev-parse --short HEAD), $(nproc) cores, $(date -u +%FT%TZ)"
if [[ -n ${NODE_EXTRA_CA_CERTS:-} && $(node --version) == v20.* ]]; then
  echo "NODE_EXTRA_CA_CERTS is set: Node 20 loads it at every start (~0.1 s; Node 22+ only when TLS is used)"
fi

# row LABEL TARGET_S MAX_RSS_MB(0: none) DIR [--cold] -- ARGS...
row() {
  local label=$1 target=$2 rss_max=$3 dir=$4 cold=0
  shift 4
  if [[ $1 == --cold ]]; then cold=1; shift; fi
  shift # --
  (cd "$dir" && "${LS[@]}" "$@" >/dev/null 2>&1 && "${LS[@]}" "$@" >/dev/null 2>&1) || true
  local load
  load=$(cut -d' ' -f1 /proc/loadavg)
  : > "$out"
  for _ in $(seq "$RUNS"); do
    ((cold)) && rm -rf "$dir/.cache/tmp/stat-cache" "$dir/.cache/tmp/parsed"
    (cd "$dir" && /usr/bin/time -f "%e %M %x" -a -o "$out" "${LS[@]}" "$@" >/dev/null 2>&1) || true
  done
  ((cold)) && (cd "$dir" && "${LS[@]}" "$@" >/dev/null 2>&1 || true)
  python3 - "$out" "$label" "$target" "$load" "$rss_max" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1]) if line[:1].isdigit()]
wall = sorted(float(r[0]) for r in rows)
rss = max(int(r[1]) for r in rows) / 1024
med, target = statistics.median(wall), float(sys.argv[3])
failed = sum(r[2] != "0" for r in rows)
rss_max = float(sys.argv[5])
met = med < target and (rss_max == 0 or rss < rss_max)
verdict = f"FAILED in {failed} runs" if failed else "met" if met else "NOT met"
goal = f"< {target} s" + (f", < {rss_max:.0f} MB" if rss_max else "")
print(f"| {sys.argv[2]} | {med:.3f} s ({wall[0]:.2f}-{wall[-1]:.2f}) | {rss:.0f} MB | {goal} | {verdict} | {sys.argv[4]} |")
PY
}

echo "| command | median wall (range, $RUNS runs) | peak RSS | target | verdict | load before |"
echo "| --- | --- | --- | --- | --- | --- |"
row "real pipeline, warm status" 0.6 150 "$REAL" -- status
row "real pipeline, no-op repro prepare" 0.6 150 "$REAL" -- repro prepare
row "real pipeline, cold status" 3 0 "$REAL" --cold -- status
row "60,000 files, warm no-op repro" 0.4 0 "$BIG" -- repro
row "500 stages, no-op repro" 0.3 0 "$MANY" -- repro
row "two-stage status" 0.4 0 "$SMALL" -- status
row "--help" 0.3 0 "$SMALL" -- --help
load=$(cut -d' ' -f1 /proc/loadavg)
per=$(cd "$REPO" && node dist/bench/exp.js 10 10 2>&1 | grep -Eo '= overhead\): wall [0-9.]+ ms' | grep -Eo '[0-9.]+ ms$' || true)
verdict=$([[ -n $per ]] && awk -v p="${per% ms}" 'BEGIN { print (p < 200 ? "met" : "NOT met") }' || echo "no figure")
echo "| exp run overhead per experiment (exp.js 10 10, -j 1) | ${per:-?} | | < 200 ms | $verdict | $load |"
