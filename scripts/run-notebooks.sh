#!/usr/bin/env bash
# Executes every notebook in notebooks/ end to end with the evcxr Rust kernel, the way a user
# opens it in Jupyter, and fails on the first cell error. Installs what it needs:
#   evcxr_jupyter 0.22.0 (cargo install, about 12 min on 2 cores, once), nbclient (pip).
# The first notebook compiles Trefoil into the kernel at :opt 2 (about 5 min on 2 cores); the
# others reuse that build through a shared EVCXR_TMPDIR.
# Executed copies go to $NOTEBOOK_OUT (default: a temporary folder); the inputs are untouched.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v evcxr_jupyter >/dev/null 2>&1; then
    echo "== installing evcxr_jupyter 0.22.0"
    cargo install --locked evcxr_jupyter@0.22.0
fi
if ! python3 -c "import nbclient, jupyter_client" >/dev/null 2>&1; then
    echo "== installing nbclient"
    python3 -m pip install --quiet --disable-pip-version-check nbclient nbformat jupyter_client jupyter_core
fi
evcxr_jupyter --install >/dev/null
out="${NOTEBOOK_OUT:-$(mktemp -d)}"
mkdir -p "$out"
export EVCXR_TMPDIR="${EVCXR_TMPDIR:-$out/evcxr}"
mkdir -p "$EVCXR_TMPDIR"
status=0
for nb in notebooks/*.ipynb; do
    name="$(basename "$nb" .ipynb)"
    echo "== notebook $nb"
    start=$(date +%s)
    # nbclient's `jupyter execute`, called through python3 so no PATH shim is needed
    if (cd notebooks && python3 -c 'import sys; from nbclient.cli import main; sys.exit(main())' \
            --kernel_name=rust --timeout=1800 --startup_timeout=120 \
            --output="$out/${name}-executed" "$name.ipynb"); then
        echo "   ok in $(( $(date +%s) - start )) s -> $out/${name}-executed.ipynb"
    else
        echo "   FAILED: $nb (see the cell above)"
        status=1
    fi
done
exit $status
