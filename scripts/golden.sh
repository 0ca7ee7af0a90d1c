#!/usr/bin/env bash
# Regenerate the tiny golden checkpoints under testdata/{llama,mistral,qwen2}-tiny/.
# Never run by CI (see DESIGN.md, scripts/).
#
#   scripts/golden.sh                                  # creates .venv-golden/ with the pinned versions below
#   PYTHON=/path/to/venv/bin/python scripts/golden.sh  # uses that interpreter as is (no install)
#
# Extra arguments go to make_tiny_checkpoints.py (e.g. --only qwen2-tiny).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# The versions the committed golden files were produced with.
PINS=(torch==2.15.0 transformers==5.23.0 safetensors==0.8.0 numpy==2.4.6)

if [[ -z "${PYTHON:-}" ]]; then
	venv="$root/.venv-golden"
	if [[ ! -x "$venv/bin/python" ]]; then
		python3 -m venv "$venv"
	fi
	"$venv/bin/python" -m pip install --quiet --upgrade pip
	"$venv/bin/python" -m pip install --quiet "${PINS[@]}"
	PYTHON="$venv/bin/python"
fi

# CPU only: the golden logits are defined by the CPU float32 eager path.
CUDA_VISIBLE_DEVICES="" "$PYTHON" "$root/scripts/make_tiny_checkpoints.py" "$@"
# Independent float64 numpy recomputation of every logits.f32 from the written files.
"$PYTHON" "$root/scripts/check_tiny_numpy.py" "$root/testdata"
