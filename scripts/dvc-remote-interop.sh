#!/usr/bin/env bash
# By hand, needs DVC 3 on PATH (python3 -m venv /tmp/dvcvenv && /tmp/dvcvenv/bin/pip install dvc):
#   PATH=/tmp/dvcvenv/bin:$PATH bash scripts/dvc-remote-interop.sh
# Checks that a DVC remote and a lockstep remote are the same thing, both ways:
#  1. DVC pushes a directory and a file; lockstep, with the same outputs, finds them all already there,
#     and pulls them into an empty cache.
#  2. lockstep pushes to an empty remote; DVC pulls from it into an empty cache and gets the same bytes.
set -euo pipefail
LOCKSTEP="node $(cd "$(dirname "$0")/.." && pwd)/bin/lockstep.js"
D=$(mktemp -d /tmp/lockstep-dvc-interop.XXXXXX)
trap 'rm -rf "$D"' EXIT
mkdir -p "$D/dvcrepo" "$D/ls" "$D/remote-a" "$D/remote-b"

cd "$D/dvcrepo"
git init -q && dvc init -q
mkdir -p data/sub
for i in $(seq 1 50); do head -c $((i * 97)) /dev/urandom > "data/f$i.bin"; done
printf 'nested\n' > data/sub/n.txt
printf 'model\n' > model.txt
dvc add -q data model.txt
dvc remote add -q -d a "$D/remote-a"
dvc push -q
echo "dvc pushed $(find "$D/remote-a/files" -type f | wc -l) objects"

cd "$D/ls"
git init -q
cat > pipeline.yaml <<YAML
stages:
  gen:
    cmd: cp -r $D/dvcrepo/data data && cp $D/dvcrepo/model.txt model.txt
    outs: [data, model.txt]
YAML
$LOCKSTEP repro -q
$LOCKSTEP remote add -d a "$D/remote-a" >/dev/null
echo "lockstep push to the DVC-made remote: $($LOCKSTEP push)"
test "$(grep -c 'md5:' pipeline.lock)" = 2
grep -q "$(grep -o '[0-9a-f]\{32\}\.dir' "$D/dvcrepo/data.dvc")" pipeline.lock && echo "same .dir hash as data.dvc"

rm -rf .cache data model.txt
$LOCKSTEP pull -q
diff -r data "$D/dvcrepo/data" && diff model.txt "$D/dvcrepo/model.txt"
echo "lockstep pulled the DVC-made remote into an empty cache: identical data"

$LOCKSTEP remote add b "$D/remote-b" >/dev/null
echo "lockstep push to an empty remote: $($LOCKSTEP push -r b)"

cd "$D/dvcrepo"
rm -rf .dvc/cache data model.txt
dvc remote add -q b "$D/remote-b"
dvc pull -q -r b
diff -r data "$D/ls/data" && diff model.txt "$D/ls/model.txt"
echo "dvc pulled lockstep's remote: identical data"
