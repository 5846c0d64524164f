#!/usr/bin/env bash
# lockstep and DVC side by side on the same generated projects (issue 2). Run by hand, never by npm test:
#   npm run build && bench/dvc-compare.sh
# Sizes and knobs come from the environment (defaults in brackets):
#   FILES [60000] files of 3 KiB in data/, BIG_MB [1024] size of big.bin, STAGES [500] small stages,
#   RUNS [3] runs per measurement (median wall time, max peak RSS), WORK [/tmp/lockstep-dvc-compare],
#   DVC_VENV [/tmp/dvcvenv] (created with `pip install dvc` when missing), KEEP=1 keeps the projects,
#   PROJECTS ["big many"] which projects to run; "real" also runs the project's own pipeline:
#   REAL=<a copy of this project where `lockstep repro prepare` ran on the real CIFAR-10> (120k files in
#   data/), REAL_TARGETS [prepare] the stages its no-op repro names (the later ones never ran).
#   lockstep runs in REAL itself; DVC in $WORK/real.dvc: the same files (hardlinks), dvc.yaml =
#   pipeline.yaml, dvc.lock = pipeline.lock, .dvc/cache/files = a symlink to REAL's .cache/files.
# Each project exists twice (one copy per tool, each its own `git init`; `dvc init` for DVC) with the
# same dvc.yaml: lockstep reads dvc.yaml when there is no pipeline.yaml and writes dvc.lock.
# Prints one table of medians, then whether both tools wrote the same hashes, and whether each tool
# accepts the other's dvc.lock as up to date.
set -euo pipefail
trap 'echo "dvc-compare.sh: command failed at line $LINENO" >&2' ERR

REPO=$(cd "$(dirname "$0")/.." && pwd)
FILES=${FILES:-60000}
BIG_MB=${BIG_MB:-1024}
STAGES=${STAGES:-500}
RUNS=${RUNS:-3}
WORK=${WORK:-/tmp/lockstep-dvc-compare}
DVC_VENV=${DVC_VENV:-/tmp/dvcvenv}
PROJECTS=${PROJECTS:-big many}
LANES=10 # the STAGES stages form 10 independent chains, as in bench/engine.ts

unset LOCKSTEP_CACHE_DIR
export DVC_NO_ANALYTICS=1

[[ -f $REPO/dist/src/cli/main.js && -f $REPO/dist/bench/dvc-lock-compare.js ]] ||
  { echo "build first: (cd $REPO && npm run build)" >&2; exit 2; }
if [[ ! -x $DVC_VENV/bin/dvc ]]; then
  echo "installing DVC into $DVC_VENV …"
  python3 -m venv "$DVC_VENV" && "$DVC_VENV/bin/pip" install -q "dvc==3.67.*"
fi
LOCKSTEP=(node "$REPO/bin/lockstep.js")
DVC=("$DVC_VENV/bin/dvc")
DVC_VERSION=$("${DVC[@]}" --version) || { echo "DVC in $DVC_VENV does not run; delete the venv to reinstall" >&2; exit 2; }

RESULTS=$WORK/results.tsv # project, step, tool, median ms, peak RSS MB, runs (ms)
LOG=$WORK/last.log
TIMING=$WORK/last.time

# ---------- generation ----------

gen_big_project() { # $1 = folder: data/class0..9 with FILES distinct 3 KiB files, big.bin, dvc.yaml
  node --input-type=module - "$1" "$FILES" "$BIG_MB" <<'EOF'
import { promises as fs } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
const [root, files, bigMb] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
for (let c = 0; c < 10; c++) await fs.mkdir(path.join(root, 'data', `class${c}`), { recursive: true });
const chunk = randomBytes(3072 * 1000);
for (let i = 0; i < files; i++) {
  const buf = Buffer.from(chunk.subarray((i % 1000) * 3072, (i % 1000 + 1) * 3072));
  buf.writeUInt32LE(i, 0); // every file distinct
  await fs.writeFile(path.join(root, 'data', `class${i % 10}`, `${i}.png`), buf);
}
const fh = await fs.open(path.join(root, 'big.bin'), 'w');
const block = randomBytes(1 << 20);
for (let i = 0; i < bigMb; i++) await fh.write(block);
await fh.close();
EOF
  cat >"$1/dvc.yaml" <<'EOF'
stages:
  count:
    cmd: find data -type f | wc -l > count.txt
    deps: [data]
    outs: [count.txt]
  big:
    cmd: wc -c < big.bin > big.txt
    deps: [big.bin]
    outs: [big.txt]
EOF
}

gen_many_project() { # $1 = folder: STAGES stages in LANES chains; lane i starts from in/i.txt
  mkdir -p "$1/in"
  local i
  {
    echo 'stages:'
    for ((i = 0; i < STAGES; i++)); do
      echo "  s$i:"
      if ((i < LANES)); then
        echo "    cmd: cp in/$i.txt o$i.txt"
        echo "    deps: [in/$i.txt]"
      else
        echo "    cmd: cat o$((i - LANES)).txt > o$i.txt && echo $i >> o$i.txt"
        echo "    deps: [o$((i - LANES)).txt]"
      fi
      echo "    outs: [o$i.txt]"
    done
  } >"$1/dvc.yaml"
  for ((i = 0; i < LANES; i++)); do echo "lane $i" >"$1/in/$i.txt"; done
}

# copy a generated project for one tool and make it that tool's repository
setup_copy() { # $1 = source, $2 = tool, $3 = destination
  cp -r "$1" "$3"
  git -C "$3" init -q
  if [[ $2 == dvc ]]; then
    (cd "$3" && "${DVC[@]}" init -q && "${DVC[@]}" config core.analytics false &&
      "${DVC[@]}" config core.check_update false &&
      # DVC 3 keeps its stat database (hashes by inode/mtime) outside the repo; keep it where we can drop it
      "${DVC[@]}" config --local core.site_cache_dir "$3.site")
  fi
}

# ---------- measuring ----------

tool_cmd() { # $1 = tool: the command line to run it
  if [[ $1 == dvc ]]; then echo "${DVC[*]}"; else echo "${LOCKSTEP[*]}"; fi
}

drop_caches() { # $1 = tool, $2 = project: forget every hash and cached object (the stat caches too)
  if [[ $1 == dvc ]]; then rm -rf "$2/.dvc/tmp" "$2/.dvc/cache" "$2.site"; else rm -rf "$2/.cache"; fi
}

# measure STEP TOOL PROJECT BEFORE VERB...: RUNS runs of `<tool> VERB...` in PROJECT, each preceded
# by the shell command BEFORE (not timed); wall time from date, peak RSS from /usr/bin/time -v
measure() {
  local step=$1 tool=$2 dir=$3 before=$4
  shift 4
  local walls=() rss=0 i t0 t1 r cmd
  read -r -a cmd <<<"$(tool_cmd "$tool")"
  for ((i = 0; i < RUNS; i++)); do
    eval "$before"
    t0=$(date +%s%N)
    if ! (cd "$dir" && /usr/bin/time -v -o "$TIMING" "${cmd[@]}" "$@") >"$LOG" 2>&1; then
      echo "FAILED: $tool $* in $dir (step '$step'):" >&2
      tail -n 20 "$LOG" >&2
      exit 1
    fi
    t1=$(date +%s%N)
    walls+=($(((t1 - t0) / 1000000)))
    r=$(awk '/Maximum resident set size/ {print int($NF / 1024)}' "$TIMING")
    ((r > rss)) && rss=$r
  done
  local sorted med
  sorted=$(printf '%s\n' "${walls[@]}" | sort -n)
  if ((RUNS % 2)); then
    med=$(sed -n "$((RUNS / 2 + 1))p" <<<"$sorted")
  else
    med=$(( ($(sed -n "$((RUNS / 2))p" <<<"$sorted") + $(sed -n "$((RUNS / 2 + 1))p" <<<"$sorted")) / 2 ))
  fi
  local list
  list=$(IFS=,; echo "${walls[*]}")
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$PROJECT" "$step" "$tool" "$med" "$rss" "$list" >>"$RESULTS"
  printf '  %-8s %-28s %9.2f s  %6s MB  runs(ms) %s\n' "$tool" "$step" "$(awk "BEGIN { print $med / 1000 }")" "$rss" "$list"
}

# the five measurements on one project for one tool; CHANGE is the shell command that edits one input
# file, the same sequence of contents for both tools so their final dvc.lock files must agree
bench_tool() { # $1 = tool, $2 = project folder, $3 = outputs to delete for a from-scratch repro
  local tool=$1 dir=$2 outs=$3
  CHANGE_N=0
  measure 'cold status' "$tool" "$dir" "drop_caches $tool $dir" status
  measure 'first repro' "$tool" "$dir" "drop_caches $tool $dir; (cd $dir && rm -f dvc.lock $outs)" repro
  measure 'no-op repro' "$tool" "$dir" ':' repro
  measure 'status' "$tool" "$dir" ':' status
  measure 'repro after 1 changed file' "$tool" "$dir" "change_one $dir" repro
}

change_one() { # $1 = project: rewrite one input with the next content of a fixed sequence
  CHANGE_N=$((CHANGE_N + 1))
  if [[ $PROJECT == big ]]; then
    head -c 3072 <(yes "change $CHANGE_N") >"$1/data/class3/3.png" # yes's SIGPIPE must not trip pipefail
  else
    echo "lane 0 change $CHANGE_N" >"$1/in/0.txt"
  fi
}

# ---------- checks ----------

CHECKS=()
check() { # $1 = label, then a command whose exit status is the verdict
  local label=$1
  shift
  if "$@" >"$LOG" 2>&1; then CHECKS+=("PASS $label"); else CHECKS+=("FAIL $label"); fi
  sed 's/^/    /' "$LOG"
}

up_to_date_with_others_lock() { # $1 = tool, $2 = its project, $3 = the other tool's dvc.lock
  local tool=$1 dir=$2 cmd out
  read -r -a cmd <<<"$(tool_cmd "$tool")"
  cp "$dir/dvc.lock" "$dir/dvc.lock.own"
  cp "$3" "$dir/dvc.lock"
  out=$(cd "$dir" && "${cmd[@]}" status --json 2>&1) || true
  mv "$dir/dvc.lock.own" "$dir/dvc.lock"
  echo "$tool status --json with the other tool's dvc.lock: $(tr -d ' \n' <<<"$out" | head -c 400)"
  [[ $(tr -d ' \n' <<<"$out") == '{}' ]]
}

# ---------- main ----------

rm -rf "$WORK"
mkdir -p "$WORK"
echo "lockstep $(git -C "$REPO" rev-parse --short HEAD), DVC $DVC_VERSION, node $(node --version)"
echo "FILES=$FILES BIG_MB=$BIG_MB STAGES=$STAGES RUNS=$RUNS WORK=$WORK PROJECTS='$PROJECTS'"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"

run_big() {
  PROJECT=big
  echo "generating $FILES files of 3 KiB and a $BIG_MB MiB file …"
  gen_big_project "$WORK/big.src"
  setup_copy "$WORK/big.src" lockstep "$WORK/big.lockstep"
  setup_copy "$WORK/big.src" dvc "$WORK/big.dvc"
  rm -rf "$WORK/big.src"
  echo "project big ($FILES files + $BIG_MB MiB):"
  bench_tool lockstep "$WORK/big.lockstep" 'count.txt big.txt'
  bench_tool dvc "$WORK/big.dvc" 'count.txt big.txt'
}

REAL_TARGETS=${REAL_TARGETS:-prepare}

run_real() { # the project's own pipeline after its data stages ran: cold/warm status and no-op repro
  PROJECT=real
  [[ -n ${REAL:-} && -f $REAL/pipeline.lock && -d $REAL/.cache/files ]] ||
    { echo "PROJECTS=real needs REAL=<project copy where lockstep repro $REAL_TARGETS ran>" >&2; exit 2; }
  local dvcdir=$WORK/real.dvc entry
  mkdir -p "$dvcdir"
  for entry in "$REAL"/* "$REAL"/.gitignore; do
    case ${entry##*/} in
      data) cp -al "$entry" "$dvcdir/" ;; # same files, same inodes: nothing to copy
      node_modules | dist | pipeline.yaml | pipeline.lock) ;;
      *) [[ -e $entry ]] && cp -a "$entry" "$dvcdir/" ;;
    esac
  done
  ln -s "$REAL/node_modules" "$dvcdir/node_modules"
  cp "$REAL/pipeline.yaml" "$dvcdir/dvc.yaml"
  cp "$REAL/pipeline.lock" "$dvcdir/dvc.lock"
  git -C "$dvcdir" init -q
  (cd "$dvcdir" && "${DVC[@]}" init -q && "${DVC[@]}" config core.analytics false &&
    "${DVC[@]}" config core.check_update false && "${DVC[@]}" config --local core.site_cache_dir "$dvcdir.site")
  mkdir -p "$dvcdir/.dvc/cache"
  ln -s "$REAL/.cache/files" "$dvcdir/.dvc/cache/files"
  echo "project real ($(find "$REAL/data" -type f | wc -l) files in data/; targets $REAL_TARGETS):"
  local statdrop="rm -rf $REAL/.cache/tmp/stat-cache $REAL/.cache/tmp/parsed"
  local dvcdrop="rm -rf $dvcdir/.dvc/tmp $dvcdir.site"
  # shellcheck disable=SC2086 # REAL_TARGETS is a list of stage names
  {
    measure 'cold status' lockstep "$REAL" "$statdrop" status
    measure 'status' lockstep "$REAL" ':' status
    measure 'no-op repro' lockstep "$REAL" ':' repro $REAL_TARGETS
    measure 'cold status' dvc "$dvcdir" "$dvcdrop" status
    measure 'status' dvc "$dvcdir" ':' status
    measure 'no-op repro' dvc "$dvcdir" ':' repro $REAL_TARGETS
  }
}

real_checks() { # both tools say the targets are up to date, from the same lock
  local t
  for t in $REAL_TARGETS; do
    check "real: lockstep status $t is up to date" sh -c "cd '$REAL' && out=\$(node '$REPO/bin/lockstep.js' status --json $t) && echo \"\$out\" && [ \"\$(echo \$out | tr -d ' ')\" = '{}' ]"
    check "real: DVC status $t is up to date" sh -c "cd '$WORK/real.dvc' && out=\$('${DVC[*]}' status --json $t) && echo \"\$out\" && [ \"\$(echo \$out | tr -d ' ')\" = '{}' ]"
  done
}

run_many() {
  PROJECT=many
  gen_many_project "$WORK/many.src"
  setup_copy "$WORK/many.src" lockstep "$WORK/many.lockstep"
  setup_copy "$WORK/many.src" dvc "$WORK/many.dvc"
  rm -rf "$WORK/many.src"
  echo "project many ($STAGES stages):"
  bench_tool lockstep "$WORK/many.lockstep" 'o*.txt'
  bench_tool dvc "$WORK/many.dvc" 'o*.txt'
}

for p in $PROJECTS; do
  case $p in
    big) run_big ;;
    many) run_many ;;
    real) run_real ;;
    *) echo "unknown project '$p' in PROJECTS (big, many, real)" >&2; exit 2 ;;
  esac
done

echo
echo "checks:"
for p in $PROJECTS; do
  if [[ $p == real ]]; then
    real_checks
    continue
  fi
  focus=()
  [[ $p == big ]] && focus=(data big.bin)
  check "$p: same md5/size/nfiles in both dvc.lock files" \
    node "$REPO/dist/bench/dvc-lock-compare.js" "$WORK/$p.dvc/dvc.lock" "$WORK/$p.lockstep/dvc.lock" "${focus[@]}"
  check "$p: lockstep up to date with DVC's dvc.lock" up_to_date_with_others_lock lockstep "$WORK/$p.lockstep" "$WORK/$p.dvc/dvc.lock"
  check "$p: DVC up to date with lockstep's dvc.lock" up_to_date_with_others_lock dvc "$WORK/$p.dvc" "$WORK/$p.lockstep/dvc.lock"
done

echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "median wall time (s) and peak RSS (MB) of $RUNS runs; FILES=$FILES BIG_MB=$BIG_MB STAGES=$STAGES"
awk -F'\t' '
  { key = $1 "\t" $2; if (!(key in seen)) { seen[key] = 1; order[++n] = key }
    t[key, $3] = $4 / 1000; m[key, $3] = $5 }
  END {
    printf "| %-7s | %-28s | %12s | %12s | %8s | %12s | %12s |\n", "project", "step", "lockstep (s)", "DVC (s)", "DVC/ours", "lockstep MB", "DVC MB"
    printf "|---------|------------------------------|--------------|--------------|----------|--------------|--------------|\n"
    for (i = 1; i <= n; i++) {
      k = order[i]; split(k, p, "\t")
      ratio = t[k, "lockstep"] > 0 ? sprintf("%.1fx", t[k, "dvc"] / t[k, "lockstep"]) : "-"
      printf "| %-7s | %-28s | %12.2f | %12.2f | %8s | %12d | %12d |\n", p[1], p[2], t[k, "lockstep"], t[k, "dvc"], ratio, m[k, "lockstep"], m[k, "dvc"]
    }
  }' "$RESULTS"
echo
printf '%s\n' "${CHECKS[@]}"
[[ ${KEEP:-0} == 1 ]] || rm -rf "$WORK"/big.* "$WORK"/many.* "$WORK"/real.* # results.tsv stays
printf '%s\n' "${CHECKS[@]}" | grep -q '^FAIL' && exit 1 || exit 0
