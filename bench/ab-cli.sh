#!/bin/bash
# A/B timing of one lockstep command under two builds, runs alternating, on two copies of the same project
# (each build keeps its own stat cache: make the copies with `cp -al`, warm each once with its own build).
#
#   bench/ab-cli.sh N DIR_A REPO_A DIR_B REPO_B [--cold] -- ARGS...
#
# Prints, per side, the median wall and CPU time (user + system, all threads) and the highest peak RSS, with
# each run's CPU, and the load average before and after. --cold removes each copy's stat cache and parse cache
# (.cache/tmp/stat-cache, .cache/tmp/parsed) before every run. Example (issue 15, third round):
#   bench/ab-cli.sh 7 /work/real-a "$PWD" /work/real-b /work/base -- status
set -euo pipefail
N=$1 DA=$2 RA=$3 DB=$4 RB=$5
shift 5
COLD=0
if [[ ${1:-} == --cold ]]; then COLD=1; shift; fi
[[ ${1:-} == -- ]] && shift
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq "$N"); do
  for side in A B; do
    if [[ $side == A ]]; then d=$DA r=$RA; else d=$DB r=$RB; fi
    ((COLD)) && rm -rf "$d/.cache/tmp/stat-cache" "$d/.cache/tmp/parsed"
    (cd "$d" && /usr/bin/time -f "$side %e %U %S %M" -a -o "$out" node "$r/bin/lockstep.js" "$@" >/dev/null 2>&1) || true
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$out" <<'PY'
import statistics as st, sys
rows = [l.split() for l in open(sys.argv[1]) if l[:1] in 'AB']
for side in 'AB':
    r = [x for x in rows if x[0] == side]
    wall = [float(x[1]) for x in r]
    cpu = [float(x[2]) + float(x[3]) for x in r]
    rss = [int(x[4]) for x in r]
    print(f"{side}: wall median {st.median(wall):.2f} s  CPU median {st.median(cpu):.2f} s  peak RSS {max(rss) // 1024} MB"
          f"  (n={len(r)}; CPU {' '.join(f'{c:.2f}' for c in cpu)})")
PY
