#!/usr/bin/env bash
# docs/s of `annotate` with two teachers on the first N docs of a pool: the speed
# settings one at a time (local engine, 1 process, 2 threads), then the engines on
# 2 CPUs (local 1x2 and 2x1, Ray embedded 2x1, Ray on two 1-CPU nodes), and whether
# the engines' shards are byte-identical. Prints one RESULT line per run.
# This is a benchmark: it prints numbers and asserts nothing.
# Usage: benchmarks/annotate_throughput.sh ELMO_TEACHER BERT_TEACHER POOL.spacy OUT [N]
set -uo pipefail
ELMO=$1 BERT=$2 POOL=$3 OUT=$4 N=${5:-1000}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
mkdir -p "$OUT"
# the BERT teacher as spacy-transformers runs it (v1: one padded call per batch),
# with its windows batched by length, and with int8 weights too
python -m spacy_kd teacher-inference "$BERT" "$OUT/bert_plain" --window-batch-size 0 --overwrite
python -m spacy_kd teacher-inference "$BERT" "$OUT/bert_w32" --window-batch-size 32 --overwrite
python -m spacy_kd teacher-inference "$BERT" "$OUT/bert_w32_int8" --window-batch-size 32 \
    --quantize int8 --overwrite
run() {  # NAME ANNOTATE-ARGS...
    local name=$1
    shift
    python -m spacy_kd annotate "$@" "$OUT/run_$name" --limit "$N" --shard-size 250 \
        --no-progress --overwrite > "$OUT/run_$name.log" 2>&1 || { echo "FAILED $name"; return; }
    python -c "import json, sys; s = json.load(open(sys.argv[1])); print(f\"RESULT $name {s['docs_per_second']:.2f} docs/s ({s['n_written']} docs, {s['seconds']:.0f} s)\")" "$OUT/run_$name/summary.json"
}
run plain_unsorted "$ELMO" "$OUT/bert_plain" "$POOL" --threads 2 --no-sort-by-length
run plain_sorted "$ELMO" "$OUT/bert_plain" "$POOL" --threads 2
run w32 "$ELMO" "$OUT/bert_w32" "$POOL" --threads 2
run w32_int8 "$ELMO" "$OUT/bert_w32_int8" "$POOL" --threads 2
run local_2x1 "$ELMO" "$OUT/bert_w32" "$POOL" --n-process 2 --threads 1
run ray_2x1 "$ELMO" "$OUT/bert_w32" "$POOL" --engine ray --n-process 2 --threads 1
rm -f "$OUT/address"
python "$(dirname "$0")/ray_two_nodes.py" "$OUT/address" > "$OUT/cluster.log" 2>&1 &
cluster=$!
for _ in $(seq 60); do [ -s "$OUT/address" ] && break; sleep 2; done
run ray_two_nodes "$ELMO" "$OUT/bert_w32" "$POOL" --engine ray --address "$(cat "$OUT/address")" \
    --n-process 2 --threads 1
kill "$cluster"
for shard in "$OUT"/run_ray_2x1/shard-*.spacy; do
    name=$(basename "$shard")
    for other in local_2x1 ray_two_nodes; do
        cmp -s "$shard" "$OUT/run_$other/$name" && same=identical || same=DIFFERENT
        echo "SHARDS $name ray_2x1 vs $other: $same"
    done
done
