#!/usr/bin/env bash
# The GPU measurements of issues 13 (part 8: SD 1.5-sized LoRA at 512 px, batch 1, steps/s and
# peak GPU memory against diffusers' reference; target <= 8 GB) and 16 (part 6: SD 1.5 at 512 px,
# time per zero-shot picture against a plain diffusers pipeline; part 2's audio adapter: training
# steps/s and time per picture against the plain pipeline), in one command on a lent GPU.
#
# 1. Here, once, with network (fetches the wheels the device image lacks into .whl/, which git
#    ignores through .git/info/exclude; about 9 MB):
#        scripts/device_check.sh prepare
# 2. On the device machine (the `run` device tool; no network there), from the same checkout:
#        command: bash scripts/device_check.sh     carry: [".whl"]     timeout_s: 600
#    It installs the wheels into /tmp/site, checks the imports, then runs bench/bench_lora_gpu.py,
#    bench/bench_pictures_gpu.py and bench/bench_pictures_adapter.py at SD 1.5's geometry (random
#    weights, 512 px) with modest step counts, each under its own time limit, and writes env.txt,
#    lora_gpu.log, pictures_gpu.log and adapter_gpu.log under $OUT (the figures are at the end of
#    each log). Expected: a few minutes on an H100 (the adapter bench last: the first two finish
#    even if the call's time runs out during it).
#
# Environment: LORA_STEPS (30), PICTURE_STEPS (30), PICTURES (3), BENCH_LIMIT_S (230 per bench),
# ADAPTER_TRAIN_STEPS (20), ADAPTER_LIMIT_S (120).
set -uo pipefail
cd "$(dirname "$0")/.."

WHEELS=(diffusers==0.42.1 soundfile==0.14.0 cffi==2.1.1 pycparser==3.12)

if [ "${1:-}" = "prepare" ]; then
    python=${PYTHON:-python3}
    exclude=$(git rev-parse --git-path info/exclude)
    mkdir -p "$(dirname "$exclude")"
    grep -qx '/.whl/' "$exclude" 2>/dev/null || echo '/.whl/' >>"$exclude"
    mkdir -p .whl
    "$python" -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d .whl "${WHEELS[@]}" || exit 1
    # diffusers' LoRA needs peft >= 0.17: installed there only if the image's peft is older.
    "$python" -m pip download --no-deps --only-binary=:all: --python-version 3.12 -d .whl/optional peft==0.21.2 || exit 1
    ls -lR .whl
    exit 0
fi

OUT=${OUT:-/tmp/device_check_out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || { echo "installing .whl failed" | tee "$OUT/env.txt"; exit 1; }
    export PYTHONPATH=/tmp/site:$PWD
    if ! python3 -c "import sys, peft; sys.exit(tuple(map(int, peft.__version__.split('.')[:2])) < (0, 17))" 2>/dev/null; then
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
            .whl/optional/peft-*.whl || { echo "installing peft failed" | tee "$OUT/env.txt"; exit 1; }
    fi
else
    echo "no .whl/: run 'scripts/device_check.sh prepare' here first and carry .whl" | tee "$OUT/env.txt"
    export PYTHONPATH=$PWD
fi

{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    python3 - <<'EOF'
import importlib.metadata as m
for name in ("torch", "diffusers", "transformers", "peft", "accelerate", "huggingface-hub", "safetensors", "soundfile"):
    try:
        print(name, m.version(name))
    except m.PackageNotFoundError:
        print(name, "missing")
import torch, diffusers, peft, soundfile  # noqa: E401,F401
import engine.api, engine.training.lora, engine.pictures.adapter  # noqa: E401,F401
print("cuda:", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
EOF
} 2>&1 | tee "$OUT/env.txt"
[ "${PIPESTATUS[0]}" = 0 ] || { echo "the imports failed: see env.txt"; exit 1; }

limit=${BENCH_LIMIT_S:-230}
status=0
# The random-weight SD 1.5 folder is built once (on the CPU, about 2 GB in fp16) and used by all three.
shared=(--geometry sd15 --size 512 --model-folder /tmp/sd15-random)
timeout "$limit" python3 bench/bench_lora_gpu.py "${shared[@]}" --steps "${LORA_STEPS:-30}" \
    2>&1 | tee "$OUT/lora_gpu.log" || status=1
timeout "$limit" python3 bench/bench_pictures_gpu.py "${shared[@]}" --steps "${PICTURE_STEPS:-30}" \
    --pictures "${PICTURES:-3}" 2>&1 | tee "$OUT/pictures_gpu.log" || status=1
timeout "${ADAPTER_LIMIT_S:-120}" python3 bench/bench_pictures_adapter.py "${shared[@]}" --steps "${PICTURE_STEPS:-30}" \
    --pictures "${PICTURES:-3}" --train-steps "${ADAPTER_TRAIN_STEPS:-20}" 2>&1 | tee "$OUT/adapter_gpu.log" || status=1
exit $status
