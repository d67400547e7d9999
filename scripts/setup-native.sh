#!/usr/bin/env bash
# Native TensorFlow for tunespec without tfjs-node's libtensorflow download (which fails offline).
#
#   scripts/setup-native.sh [--use-system] [--gpu] [--force]
#
# 1. TensorFlow for Python supplies libtensorflow: .venv-native/ if this script made one, else the
#    system python3's `tensorflow` with --use-system, else a new .venv-native with
#    tensorflow-cpu==2.21.0 (--gpu: tensorflow[and-cuda]==2.21.0).
# 2. @tensorflow/tfjs-node@4.22.0 (--gpu: tfjs-node-gpu) is fetched into .native/ with install
#    scripts off. Its @tensorflow/tfjs* dependencies are replaced by links to the project's own
#    node_modules/@tensorflow/*, so there is a single tfjs-core and the 'tensorflow' backend
#    registers on the engine the project uses.
# 3. Its addon is built with node-gyp against the wheel's libtensorflow_cc.so.2 and the installed
#    node's headers (no download), and put where tfjs-node's loader looks (lib/napi-vN/).
#    The addon finds libtensorflow through its rpath ($ORIGIN/../../deps/lib -> the wheel).
#
# Flags: --use-system  use python3's own tensorflow when there is no .venv-native
#        --gpu         tfjs-node-gpu on tensorflow[and-cuda] (untested here: no GPU)
#        --force       rebuild the addon even when the stamp says nothing changed
#
# Load it with createRequire(<repo>/.native/x.js)('@tensorflow/tfjs-node').
# Idempotent: .native/.stamp records what was built; when nothing changed it returns at once.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

TF_VERSION=2.21.0
TFJS_NODE_VERSION=4.22.0
PREFIX=.native
VENV=.venv-native
LOG=$ROOT/$PREFIX/setup.log

use_system=0 gpu=0 force=0
for arg in "$@"; do
  case $arg in
    --use-system) use_system=1 ;;
    --gpu) gpu=1 ;;
    --force) force=1 ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "setup-native: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

if ((gpu)); then
  PKG=@tensorflow/tfjs-node-gpu PIP_SPEC="tensorflow[and-cuda]==$TF_VERSION"
else
  PKG=@tensorflow/tfjs-node PIP_SPEC="tensorflow-cpu==$TF_VERSION"
fi

say() { echo "setup-native: $*" >&2; }
die() {
  echo "setup-native: error: $1" >&2
  shift
  local line
  for line in "$@"; do echo "  $line" >&2; done
  exit 1
}
# Run a step quietly into $LOG; on failure show the end of its output and a hint.
step() {
  local what=$1 hint=$2
  shift 2
  echo "== $what: $*" >>"$LOG"
  if ! "$@" >>"$LOG" 2>&1; then
    echo "setup-native: error: $what failed. Last lines of $LOG:" >&2
    tail -n 25 "$LOG" | sed 's/^/  | /' >&2
    echo "  $hint" >&2
    exit 1
  fi
}
log_started=0
start_log() {
  ((log_started)) && return
  : >"$LOG"
  log_started=1
}
need() { command -v "$1" >/dev/null 2>&1 || die "'$1' is not on PATH." "$2"; }

need node "Install Node.js >= 20."
need npm "Install npm (it comes with Node.js)."

# --- Node.js side: the project's tfjs, node headers, node-gyp ----------------------------------
project_tfjs=$(node -p "require('./node_modules/@tensorflow/tfjs/package.json').version" 2>/dev/null) ||
  die "the project's @tensorflow/tfjs is not installed." "Run 'npm install' in $ROOT first."
[ "$project_tfjs" = "$TFJS_NODE_VERSION" ] ||
  die "the project has @tensorflow/tfjs $project_tfjs, but $PKG $TFJS_NODE_VERSION needs $TFJS_NODE_VERSION." \
    "Change TFJS_NODE_VERSION in $0 to match, or the project's @tensorflow/tfjs pin."
node_abi=$(node -p 'process.version + " modules " + process.versions.modules + " napi " + process.versions.napi')

mkdir -p "$PREFIX"
[ -f "$PREFIX/.gitignore" ] || echo '*' >"$PREFIX/.gitignore" # keeps all of .native/ out of git
# One run at a time (two would fight over .venv-native and .native).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$PREFIX/.lock"
  flock -n 9 || { say "waiting for another setup-native run to finish"; flock 9; }
fi

# --- Python side: find or install TensorFlow ----------------------------------------------------
# Prints the package directory, the distribution's version and its name, without importing
# tensorflow (slow).
tf_info() {
  "$1" - <<'EOF' 2>/dev/null
import importlib.util, os, sys
spec = importlib.util.find_spec('tensorflow')
if spec is None or not spec.origin:
    sys.exit(3)
name, version = '?', '?'
try:
    from importlib.metadata import packages_distributions, version as dist_version
    for name in packages_distributions().get('tensorflow', []):
        version = dist_version(name)
        break
except Exception:
    pass
print(os.path.dirname(spec.origin))
print(version)
print(name)
EOF
}

venv_ok() { [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.pin" 2>/dev/null)" = "$PIP_SPEC" ]; }

info=""
if venv_ok; then
  info=$(tf_info "$VENV/bin/python") || info=""
  source_desc="$VENV ($PIP_SPEC)"
fi
if [ -z "$info" ] && ((use_system)); then
  need python3 "Install Python 3, or drop --use-system to let this script create $VENV."
  info=$(tf_info python3) ||
    die "--use-system: $(command -v python3) ($(python3 -V 2>&1)) has no 'tensorflow' package." \
      "Install one ('python3 -m pip install $PIP_SPEC'), or drop --use-system to let this script create $VENV."
  source_desc="system $(command -v python3)"
fi
if [ -z "$info" ]; then
  need python3 "Install Python 3 with venv (Debian: apt-get install python3-venv), or pass --use-system."
  python3 -c 'import ensurepip, venv' 2>/dev/null ||
    die "python3 lacks venv/ensurepip." "Debian: apt-get install python3-venv; or install $PIP_SPEC yourself and pass --use-system."
  start_log
  say "installing $PIP_SPEC into $VENV (once; a few hundred MB from PyPI)"
  rm -rf "$VENV"
  step "creating $VENV" "Check that python3 can create virtual environments." python3 -m venv "$VENV"
  step "pip install $PIP_SPEC" \
    "Needs PyPI and a python3 ($(python3 -V 2>&1)) that TensorFlow $TF_VERSION has wheels for; or install it yourself and pass --use-system." \
    "$VENV/bin/pip" install --disable-pip-version-check --no-input "$PIP_SPEC"
  echo "$PIP_SPEC" >"$VENV/.pin"
  info=$(tf_info "$VENV/bin/python") || die "pip installed $PIP_SPEC but $VENV/bin/python cannot find 'tensorflow'." "Delete $VENV and rerun."
  source_desc="$VENV ($PIP_SPEC)"
fi
{ read -r TFD; read -r tf_version; read -r tf_dist; } <<<"$info"

for f in libtensorflow_cc.so.2 libtensorflow_framework.so.2 include/tensorflow/c/c_api.h include/tensorflow/c/eager/c_api.h; do
  [ -e "$TFD/$f" ] || die "TensorFlow $tf_version at $TFD (from $source_desc) has no $f." \
    "The C library and headers come with the tensorflow / tensorflow-cpu wheels (2.x on Linux)." \
    "Use another one, or drop --use-system to let this script install $PIP_SPEC into $VENV."
done
if ((gpu)) && [[ $tf_dist == *cpu* ]]; then
  die "--gpu, but the TensorFlow found ($tf_dist $tf_version from $source_desc) is a CPU-only build." \
    "Remove $VENV (or the --use-system package) or install $PIP_SPEC there."
fi
[ "$tf_version" = "$TF_VERSION" ] || say "note: using TensorFlow $tf_version from $source_desc (tested with $TF_VERSION)"

TFJS_DIR=$PREFIX/node_modules/$PKG
stamp_want=$(printf '%s\n' "package=$PKG@$TFJS_NODE_VERSION" "project_tfjs=$project_tfjs" \
  "tensorflow=$tf_version" "tf_dir=$TFD" "libtensorflow=$(stat -Lc '%s %Y' "$TFD/libtensorflow_cc.so.2")" "node=$node_abi")

# Every @tensorflow/* package (other than tfjs-node itself) is a link into the project's node_modules.
links_ok() {
  local d
  for d in "$PREFIX"/node_modules/@tensorflow/*; do
    case ${d##*/} in tfjs-node | tfjs-node-gpu) continue ;; esac
    [ -L "$d" ] && [ -e "$d" ] || return 1
  done
}
binding_path() {
  (cd "$TFJS_DIR" && node -p "require('@mapbox/node-pre-gyp').find(require('path').resolve('package.json'))") 2>/dev/null
}

if ((!force)) && [ "$(cat "$PREFIX/.stamp" 2>/dev/null)" = "$stamp_want" ] && links_ok &&
  binding=$(binding_path) && [ -f "$binding" ]; then
  say "up to date: $PKG $TFJS_NODE_VERSION on TensorFlow $tf_version ($TFD)"
  exit 0
fi

need python3 "node-gyp needs Python 3."
need make "Install make (Debian: apt-get install build-essential)."
command -v c++ >/dev/null 2>&1 || command -v g++ >/dev/null 2>&1 ||
  die "no C++ compiler ('c++' / 'g++') on PATH." "Debian: apt-get install build-essential"

# Node's own headers (node-gyp would otherwise download them from nodejs.org).
NODEDIR=${NODEDIR:-$(cd "$(dirname "$(readlink -f "$(command -v node)")")/.." && pwd)}
for f in include/node/node_api.h include/node/common.gypi; do
  [ -f "$NODEDIR/$f" ] || die "Node.js headers not found: $NODEDIR/$f is missing." \
    "Node $(node -v)'s headers ship with the nodejs.org and NodeSource builds (Debian's nodejs: apt-get install libnode-dev);" \
    "or unpack node-$(node -v)-headers.tar.gz somewhere," \
    "then rerun with NODEDIR=<dir holding include/node>."
done
NPM_GYP="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
if [ -f "$NPM_GYP" ]; then NODE_GYP=(node "$NPM_GYP"); else NODE_GYP=(npx --yes node-gyp@12); fi

start_log
rm -f "$PREFIX/.stamp"

# --- fetch tfjs-node, with no install scripts ------------------------------------------------------
have=$(node -p "require('./$TFJS_DIR/package.json').version" 2>/dev/null || true)
if [ "$have" != "$TFJS_NODE_VERSION" ]; then
  say "fetching $PKG@$TFJS_NODE_VERSION into $PREFIX (install scripts off)"
  rm -rf "$PREFIX/node_modules"
  step "npm install $PKG@$TFJS_NODE_VERSION" "Needs the npm registry (or a warm npm cache)." \
    npm install --prefix "$PREFIX" --no-save --no-package-lock --ignore-scripts --no-audit --no-fund \
    --loglevel=error "$PKG@$TFJS_NODE_VERSION"
fi

# --- one tfjs: link its @tensorflow/* dependencies to the project's copies --------------------------
for d in "$PREFIX"/node_modules/@tensorflow/*; do
  name=${d##*/}
  case $name in tfjs-node | tfjs-node-gpu) continue ;; esac
  mine="node_modules/@tensorflow/$name"
  [ -f "$mine/package.json" ] ||
    die "the project has no @tensorflow/$name, which $PKG needs." "Run 'npm install' in $ROOT (or add @tensorflow/$name $TFJS_NODE_VERSION)."
  if [ ! -L "$d" ]; then
    theirs=$(node -p "require('./$d/package.json').version")
    ours=$(node -p "require('./$mine/package.json').version")
    [ "$theirs" = "$ours" ] || die "$PKG wants @tensorflow/$name $theirs but the project has $ours." \
      "Make the project's @tensorflow/* packages $TFJS_NODE_VERSION."
    rm -rf "$d"
  fi
  ln -sfn "../../../node_modules/@tensorflow/$name" "$d" # .native/node_modules/@tensorflow/ -> repo root
done

# --- libtensorflow from the wheel where binding.gyp expects it (deps/include, deps/lib) ------------
mkdir -p "$TFJS_DIR/deps/lib"
ln -sfn "$TFD/include" "$TFJS_DIR/deps/include"
# -ltensorflow resolves to libtensorflow.so at link time; at run time the loader asks for the
# SONAMEs (libtensorflow_cc.so.2, libtensorflow_framework.so.2) in the rpath $ORIGIN/../../deps/lib.
ln -sfn "$TFD/libtensorflow_cc.so.2" "$TFJS_DIR/deps/lib/libtensorflow.so"
ln -sfn "$TFD/libtensorflow_cc.so.2" "$TFJS_DIR/deps/lib/libtensorflow_cc.so.2"
ln -sfn "$TFD/libtensorflow_framework.so.2" "$TFJS_DIR/deps/lib/libtensorflow_framework.so"
ln -sfn "$TFD/libtensorflow_framework.so.2" "$TFJS_DIR/deps/lib/libtensorflow_framework.so.2"

# --- build the addon -----------------------------------------------------------------------------
binding=$(binding_path) || die "cannot work out where $PKG loads its addon from." "Delete $PREFIX and rerun."
module_path=$(dirname "$binding")
napi=${module_path##*napi-v}
say "building the $PKG addon (N-API $napi) against TensorFlow $tf_version with node-gyp (under a minute)"
rm -f "$binding"
(
  cd "$TFJS_DIR"
  step "node-gyp rebuild" "See $LOG. Needs a C++17 compiler and the TensorFlow headers under $TFD/include." \
    "${NODE_GYP[@]}" rebuild --nodedir="$NODEDIR" --jobs="$(nproc 2>/dev/null || echo 2)" \
    --module_name=tfjs_binding --module_path="$module_path" --napi_build_version="$napi"
)
[ -f "$binding" ] || die "node-gyp finished but $binding was not produced." "See $LOG."
rm -rf "$TFJS_DIR/build" # object files; the addon is in $module_path

# --- smoke test: it loads, registers on the project's tfjs, and computes ---------------------------
cat >"$PREFIX/smoke.cjs" <<'EOF'
const { createRequire } = require('module');
const fs = require('fs');
const path = require('path');
const [root, prefix, pkg, out] = process.argv.slice(2);
const fromProject = createRequire(path.join(root, 'x.js'));
const fromNative = createRequire(path.join(root, prefix, 'x.js'));
const fromPkg = createRequire(fromNative.resolve(pkg));
for (const dep of ['@tensorflow/tfjs', '@tensorflow/tfjs-core']) {
  const [a, b] = [fromPkg, fromProject].map((r) => fs.realpathSync(r.resolve(dep)));
  if (a !== b) throw new Error(`${pkg} would load a second ${dep}: ${a} (project: ${b})`);
}
fromNative(pkg);
const tf = fromProject('@tensorflow/tfjs');
if (tf.getBackend() !== 'tensorflow') throw new Error(`backend is ${tf.getBackend()}, not tensorflow`);
const y = tf.matMul(tf.ones([2, 3]), tf.ones([3, 2])).dataSync();
if (y[0] !== 3) throw new Error(`matMul gave ${y[0]}`);
fs.writeFileSync(out, tf.backend().binding.TF_Version + '\n');
EOF
step "loading the built addon" "See $LOG (the error is at its end)." \
  env TF_CPP_MIN_LOG_LEVEL=2 node "$PREFIX/smoke.cjs" "$ROOT" "$PREFIX" "$PKG" "$PREFIX/tf_version"
native_tf=$(cat "$PREFIX/tf_version")

echo "$stamp_want" >"$PREFIX/.stamp"
say "ready: $PKG $TFJS_NODE_VERSION on libtensorflow $native_tf ($TFD)"
if ((gpu)); then
  # TensorFlow dlopen()s CUDA from the nvidia-* wheels; nothing sets their paths for a non-Python
  # process, and the loader reads LD_LIBRARY_PATH only at process start.
  ld=$(find "$(dirname "$TFD")/nvidia" -mindepth 2 -maxdepth 2 -type d -name lib 2>/dev/null | sort | paste -sd: -)
  if [ -n "$ld" ]; then
    echo "$ld" >"$PREFIX/ld_library_path"
    say "if TensorFlow does not see the GPU, start node with LD_LIBRARY_PATH=\$(cat $PREFIX/ld_library_path)"
  fi
fi
