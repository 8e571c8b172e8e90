#!/usr/bin/env bash
# Build the separate environment in which benchmarks/seqrec.py runs RecBole's SASRec as a peer.
# RecBole is never a dependency of Tastebud: it lives only in this venv.
#
#   bash benchmarks/setup_recbole_env.sh [VENV_DIR] [MAIN_VENV_DIR]
#
# Only PyPI is reachable here and PyPI's torch wheel is the multi-GB CUDA build, so the CPU torch
# already installed in the main venv is linked in instead of downloaded (same interpreter version).
# RecBole 1.2.1 needs numpy<2 and pandas<2.3; torch 2.13's wheels run against numpy 1.26.
set -euo pipefail
VENV=${1:-/work/recbole-venv}
MAIN=${2:-/work/venv}
PY=$("$MAIN/bin/python" -c 'import sys; print(sys.executable)')
"$PY" -m venv "$VENV"
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
MAIN_SITE=$("$MAIN/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
for pkg in torch torchgen functorch "torch-"*".dist-info"; do
  for path in "$MAIN_SITE"/$pkg; do
    [ -e "$path" ] && ln -sfn "$path" "$SITE/$(basename "$path")"
  done
done
"$VENV/bin/pip" install -q --upgrade pip
# torch's own pure-Python requirements
"$VENV/bin/pip" install -q "setuptools>=77.0.3" filelock typing-extensions sympy networkx jinja2 fsspec
# RecBole without its dependency list (it would pull ray, plotly, a CUDA torch...)
"$VENV/bin/pip" install -q --no-deps recbole==1.2.1 thop
# what RecBole's SASRec path imports
"$VENV/bin/pip" install -q "numpy<2" "pandas<2.3" scipy scikit-learn colorlog==4.7.2 colorama==0.4.4 \
  pyyaml tabulate texttable psutil tensorboard tqdm
"$VENV/bin/python" -c 'import torch, numpy, recbole; print("recbole", recbole.__version__, "torch", torch.__version__, "numpy", numpy.__version__)'
