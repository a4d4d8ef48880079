#!/usr/bin/env bash
# Runs the tests of the `torch` feature (mpc-nn/tests/torch.rs) against libtorch 2.13, which
# tch 0.26 needs. libtorch comes from the PyPI wheel torch==2.13.0, installed CPU-only and
# without its CUDA libraries (only the two small ones libtorch_cpu links) into a virtualenv:
# about 1.2 GB, 1 to 1.5 minutes. Idempotent: an existing install is reused. A cold run (new
# virtualenv and target directory) took 25 minutes on a shared 2-core machine, nearly all of it
# the first build of torch-sys' C++ bindings and the workspace; a warm run about 30 s.
#
#   scripts/torch-tests.sh [extra cargo test arguments, e.g. -- --nocapture]
#
# TORCH_VENV (default: a torch-venv directory next to the repository) chooses the virtualenv;
# CARGO_TARGET_DIR is honoured as usual. The default build and CI do not need any of this.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
venv="${TORCH_VENV:-$(dirname "$repo")/torch-venv}"
torch_version=2.13.0
start=$(date +%s)

if [ ! -x "$venv/bin/python" ]; then
    echo "== creating the virtualenv $venv"
    python3 -m venv "$venv"
fi
site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
have="$(sed -n 's/^Version: //p' "$site"/torch-*.dist-info/METADATA 2>/dev/null | head -n 1 || true)"
if [ "$have" != "$torch_version" ]; then
    echo "== installing torch==$torch_version (libtorch only: --no-deps, CPU)"
    "$venv/bin/pip" install --quiet --no-deps "torch==$torch_version" \
        nvidia-cuda-runtime==13.0.96 nvidia-cuda-cupti==13.0.85
else
    echo "== torch $have already in $venv"
fi

export LIBTORCH="$site/torch"
export LIBTORCH_CXX11_ABI=1
nvidia_libs="$(find "$site/nvidia" -maxdepth 3 -type d -name lib 2>/dev/null | tr '\n' ':')"
export LD_LIBRARY_PATH="$LIBTORCH/lib:${nvidia_libs}${LD_LIBRARY_PATH:-}"

cd "$repo"
echo "== cargo test --release -p mpc-nn --features torch --test torch"
cargo test --release -p mpc-nn --features torch --test torch "$@"
echo "== done in $(($(date +%s) - start)) s"
