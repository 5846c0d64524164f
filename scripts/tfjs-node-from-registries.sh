#!/usr/bin/env bash
# Makes @tensorflow/tfjs-node work in this project's node_modules from package registries only (npm, Maven
# Central, PyPI), for machines where its install script cannot download libtensorflow and the prebuilt addon
# from their usual storage host. Run after `npm ci`; on a machine where the normal install works, it only checks.
#
#   1. package files: npm install --no-save --ignore-scripts @tensorflow/tfjs-node@<the tfjs-core version>
#   2. libtensorflow (C and eager C API): Maven Central org.tensorflow:tensorflow-core-native:1.1.0:linux-x86_64
#      (TF-Java 1.1.0, TensorFlow 2.18.0) holds libtensorflow_cc.so.2 and libtensorflow_framework.so.2
#   3. the C headers: tensorflow/include/{tensorflow,tsl,xla}/ of PyPI's tensorflow-cpu==2.18.0 wheel (headers
#      only; nothing of TensorFlow is installed)
#   4. the N-API addon: node-gyp on the package's binding.gyp against this Node's headers -> lib/napi-v8/, its
#      source first patched to pass list-valued op attributes (scripts/tfjs-node-binding-lists.mjs)
#
# Downloads and the built addon are cached in $LOCKSTEP_TFJS_CACHE (default ~/.cache/lockstep-tfjs-node),
# keyed by version, so a machine pays once (about 400 MB of downloads, 10 s of compiling).
# If a step fails, the last line names it: "tfjs-node-from-registries: blocked at <step>".
#
# An install that loads is kept as it is (one this script built before it patched the binding is rebuilt, for the
# same libtensorflow). LOCKSTEP_TF_JAVA picks the libtensorflow, also over an install that loads: 1.1.0 (the default,
# TensorFlow 2.18.0) or 0.5.0 (TF-Java 0.5.0's tensorflow-core-api jar, TensorFlow 2.10.1, headers from
# tensorflow-cpu==2.10.1), the library of the figures recorded before 2026-12-07 and the 91% preset's three seeds:
# other last bits, 10-20% slower training of the seed and fast models on an AVX-512 machine (stages/TRAIN.md).
set -euo pipefail
cd "$(dirname "$0")/.."

pick_version() {
  JAVA_TF_VERSION=$1
  case "$JAVA_TF_VERSION" in
    0.5.0) JAVA_ARTIFACT=tensorflow-core-api TF_VERSION=2.10.1 HEADER_DIRS="tensorflow" ;;
    1.1.0) JAVA_ARTIFACT=tensorflow-core-native TF_VERSION=2.18.0 HEADER_DIRS="tensorflow tsl xla" ;;
    *)
      echo "tfjs-node-from-registries: LOCKSTEP_TF_JAVA=$JAVA_TF_VERSION is not a version this script knows; use 0.5.0 or 1.1.0" >&2
      exit 2
      ;;
  esac
}
pick_version "${LOCKSTEP_TF_JAVA:-1.1.0}"
NAPI_VERSION=8
NODE_GYP=node-gyp@12 # 12 supports Node 20; 13 needs Node 22
CACHE="${LOCKSTEP_TFJS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lockstep-tfjs-node}"
PKG=node_modules/@tensorflow/tfjs-node

step=start
trap 'echo "tfjs-node-from-registries: blocked at $step (exit $?)" >&2' ERR
say() { echo "tfjs-node: $*" >&2; }

# Loads tfjs-node in a fresh process and runs one op on its backend; quiet, exit code only.
loads() {
  node -e "
    const tf = require('@tensorflow/tfjs-node');
    if (tf.getBackend() !== 'tensorflow' || tf.tensor([1, 2]).square().dataSync()[1] !== 4) process.exit(1);
  " >/dev/null 2>&1
}

if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  say "this route has libtensorflow for Linux x86-64 only; on $(uname -s)-$(uname -m) use the normal install"
  exit 0
fi

# The libtensorflow version the installed binding runs with (empty if it does not load).
loaded_tf() {
  node -e "process.stdout.write(String(require('@tensorflow/tfjs-node').backend().binding.TF_Version))" 2>/dev/null || true
}

# An addon this script built carries this mark beside it once its binding passes list-valued attributes
# (scripts/tfjs-node-binding-lists.mjs); one built before that is rebuilt, for the libtensorflow it has.
LISTS_MARK="$PKG/lib/napi-v$NAPI_VERSION/.lockstep-binding-lists"

step="checking whether tfjs-node already loads"
if loads; then
  have=$(loaded_tf)
  ours_without_lists=false
  [ -f "$PKG/deps/lib/libtensorflow_cc.so.2" ] && [ ! -f "$LISTS_MARK" ] && ours_without_lists=true
  if [ -z "${LOCKSTEP_TF_JAVA:-}" ] && $ours_without_lists; then
    case "$have" in 2.18.0) pick_version 1.1.0 ;; *) pick_version 0.5.0 ;; esac
    say "loads (libtensorflow $have), built before its binding passed lists; rebuilding the addon"
  elif [ -z "${LOCKSTEP_TF_JAVA:-}" ] || { [ "$have" = "$TF_VERSION" ] && ! $ours_without_lists; }; then
    say "loads already (libtensorflow $have); nothing to do"
    exit 0
  else
    say "loads with libtensorflow $have; building for $TF_VERSION (LOCKSTEP_TF_JAVA=$JAVA_TF_VERSION)"
  fi
fi

step="reading the tfjs version"
TFJS_VERSION=$(node -p "require('@tensorflow/tfjs-core/package.json').version")

step="installing the package files (npm install --no-save --ignore-scripts @tensorflow/tfjs-node@$TFJS_VERSION)"
if [ "$(node -p "try { require('./$PKG/package.json').version } catch { '' }")" != "$TFJS_VERSION" ]; then
  say "$step"
  npm install --no-save --ignore-scripts --no-audit --no-fund "@tensorflow/tfjs-node@$TFJS_VERSION" >&2
fi

TF_DIR="$CACHE/tensorflow-$TF_VERSION"
mkdir -p "$CACHE"

step="getting libtensorflow from Maven Central (org.tensorflow:$JAVA_ARTIFACT:$JAVA_TF_VERSION:linux-x86_64)"
if [ ! -f "$TF_DIR/lib/libtensorflow_cc.so.2" ] || [ ! -f "$TF_DIR/lib/libtensorflow_framework.so.2" ]; then
  say "$step"
  work=$(mktemp -d "$CACHE/.maven.XXXXXX")
  mvn -q -B dependency:copy "-Dmaven.repo.local=$work/m2" "-DoutputDirectory=$work" \
    "-Dartifact=org.tensorflow:$JAVA_ARTIFACT:$JAVA_TF_VERSION:jar:linux-x86_64" >&2
  unzip -q -j -o "$work/$JAVA_ARTIFACT-$JAVA_TF_VERSION-linux-x86_64.jar" \
    'org/tensorflow/internal/c_api/linux-x86_64/libtensorflow_cc.so.2' \
    'org/tensorflow/internal/c_api/linux-x86_64/libtensorflow_framework.so.2' \
    'org/tensorflow/internal/c_api/linux-x86_64/LICENSE' -d "$work/lib"
  mkdir -p "$TF_DIR"
  rm -rf "$TF_DIR/lib"
  mv "$work/lib" "$TF_DIR/lib"
  rm -rf "$work"
fi

step="getting the C headers from PyPI (tensorflow-cpu==$TF_VERSION wheel)"
headers_ok() {
  [ -f "$TF_DIR/include/tensorflow/c/c_api.h" ] || return 1
  for d in $HEADER_DIRS; do [ -d "$TF_DIR/include/$d" ] || return 1; done
}
if ! headers_ok; then
  say "$step"
  work=$(mktemp -d "$CACHE/.pypi.XXXXXX")
  python3 -m pip download --quiet --no-cache-dir --no-deps --python-version 3.10 --only-binary=:all: \
    --platform manylinux2014_x86_64 "tensorflow-cpu==$TF_VERSION" -d "$work" >&2
  # tensorflow/ and, in newer versions, the tsl/ and xla/ headers the C API includes (all of include/ is ~290 MB).
  for d in $HEADER_DIRS; do
    unzip -q -o "$work"/tensorflow_cpu-"$TF_VERSION"-*.whl "tensorflow/include/$d/*" -d "$work/x"
  done
  mkdir -p "$TF_DIR"
  rm -rf "$TF_DIR/include"
  mv "$work/x/tensorflow/include" "$TF_DIR/include"
  rm -rf "$work"
fi

step="placing libtensorflow and the headers in $PKG/deps"
# Hard links cost no space and keep working if the cache is removed; copies where links cannot be made.
rm -rf "$PKG/deps"
mkdir -p "$PKG/deps/lib"
for f in libtensorflow_cc.so.2 libtensorflow_framework.so.2 LICENSE; do
  ln -f "$TF_DIR/lib/$f" "$PKG/deps/lib/$f" 2>/dev/null || cp "$TF_DIR/lib/$f" "$PKG/deps/lib/$f"
done
ln -s libtensorflow_cc.so.2 "$PKG/deps/lib/libtensorflow.so"
ln -s libtensorflow_framework.so.2 "$PKG/deps/lib/libtensorflow_framework.so"
cp -r "$TF_DIR/include" "$PKG/deps/include"

ADDON_DIR="$CACHE/addon-tfjs-node-$TFJS_VERSION-tf-$TF_VERSION-napi-v$NAPI_VERSION-lists"
step="building the addon (node-gyp rebuild on $PKG/binding.gyp)"
if [ ! -f "$ADDON_DIR/tfjs_binding.node" ]; then
  say "$step"
  # The binding as released passes no list of strings or types, which oneDNN's fused convolution needs.
  node scripts/tfjs-node-binding-lists.mjs "$PKG/binding/tfjs_backend.cc"
  # This Node's own headers (include/node beside its binary, /usr/include/node for Debian's nodejs), so node-gyp
  # needs no download either.
  NODEDIR=$(node -p "require('path').dirname(require('path').dirname(process.execPath))")
  [ -f "$NODEDIR/include/node/node_api.h" ] || NODEDIR=/usr
  (
    cd "$PKG"
    npx --yes "$NODE_GYP" rebuild --nodedir="$NODEDIR" --module_name=tfjs_binding \
      --module_path="lib/napi-v$NAPI_VERSION" --napi_build_version="$NAPI_VERSION" >"$CACHE/node-gyp.log" 2>&1 ||
      { tail -n 30 "$CACHE/node-gyp.log" >&2; false; }
  )
  mkdir -p "$ADDON_DIR"
  cp "$PKG/build/Release/tfjs_binding.node" "$ADDON_DIR/.tfjs_binding.node.tmp"
  mv "$ADDON_DIR/.tfjs_binding.node.tmp" "$ADDON_DIR/tfjs_binding.node"
  rm -rf "$PKG/build"
fi
mkdir -p "$PKG/lib/napi-v$NAPI_VERSION"
cp "$ADDON_DIR/tfjs_binding.node" "$PKG/lib/napi-v$NAPI_VERSION/tfjs_binding.node"
touch "$LISTS_MARK"

step="loading tfjs-node"
if ! loads; then
  node -e "require('@tensorflow/tfjs-node')" >&2 || true
  false
fi
say "@tensorflow/tfjs-node $TFJS_VERSION loads (libtensorflow $TF_VERSION from Maven Central, headers from PyPI)"
