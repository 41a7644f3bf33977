#!/usr/bin/env bash
# Reproduces assets/demo-model.gguf, the model built into beanbag: generates the demo corpus,
# trains the model and its tokenizer with `beanbag train`, scores it with `beanbag eval-demo`
# (1,000 held-out questions, through beanbag's inference path and through the trainer's own
# forward pass) and installs it. The result is bit-identical for any THREADS and on any CPU
# with AVX2 or AVX-512 (see docs/training.md). About 30-40 minutes on an idle 2-core machine.
#
#   scripts/train-demo.sh            # everything, then rebuild to embed the new model
#   OUT=dir THREADS=4 scripts/train-demo.sh
#   RESUME=1 scripts/train-demo.sh   # continue an interrupted run from its last checkpoint
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-build/demo}
THREADS=${THREADS:-2}
BB=build/beanbag

if [ ! -x "$BB" ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build -j"$(nproc)"
fi
mkdir -p "$OUT"
start=$(date +%s)

# 1. The corpus: 300,000 ChatML dialogues (about 15 M tokens), seed 1.
if [ ! -s "$OUT/corpus.txt" ]; then
  "$BB" demo-data --out "$OUT/corpus.txt" --n 300000 --seed 1
fi

# 2. Training: a 4-layer llama (dim 128, 4 heads, SwiGLU 384, tied embeddings), a 512-token
#    byte-level BPE, loss on the assistant's replies only; 18,000 steps of 32 dialogues.
if [ "${RESUME:-0}" = 1 ] && [ -s "$OUT/demo-model.gguf.train" ]; then
  "$BB" train --data "$OUT/corpus.txt" --resume "$OUT/demo-model.gguf" --threads "$THREADS"
else
  "$BB" train --data "$OUT/corpus.txt" --out "$OUT/demo-model.gguf" --name beanbag-demo \
    --dim 128 --layers 4 --heads 4 --kv-heads 4 --ffn 384 --vocab 512 --ctx 256 \
    --steps 18000 --batch 32 --lr 2e-3 --lr-min 2e-4 --warmup 900 --wd 0.1 --clip 1.0 \
    --seed 1 --loss assistant --save-every 1000 --threads "$THREADS"
fi
trained=$(date +%s)

# 3. Scoring: exact-answer accuracy on 1,000 held-out questions, both engines.
"$BB" eval-demo -m "$OUT/demo-model.gguf" --n 1000 --threads "$THREADS" | tee "$OUT/eval.txt"
"$BB" eval-demo -m "$OUT/demo-model.gguf" --n 1000 --threads "$THREADS" --engine trainer \
  | tee "$OUT/eval-trainer.txt"

# 4. Install and rebuild, so `beanbag chat` without -m runs the new model.
cp "$OUT/demo-model.gguf" assets/demo-model.gguf
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
echo "train-demo: trained in $((trained - start)) s, total $(($(date +%s) - start)) s;" \
  "model $(stat -c %s assets/demo-model.gguf) bytes"
