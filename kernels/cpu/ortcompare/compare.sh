#!/usr/bin/env bash
# compare.sh: minilm's CPU backend against ONNX Runtime on the same machine,
# interleaved, on the 512 bench pairs with the full-size MiniLM-L6-shaped model.
#
#   bash kernels/cpu/ortcompare/compare.sh [ROUNDS]      (from the repo root)
#
# minilm is timed as a whole process (`minilm score --threads 2 --batch-size 64`:
# start-up, model load, tokenization, I/O included); ONNX Runtime 1.30 (npm
# onnxruntime-node, CPU) is timed on inference alone, from the golden token ids
# in batches sorted by length (its best case). Each round runs both, one after
# the other; the report gives the median pairs/s of each and their ratio, and
# checks that both engines agree on every logit. Where the CPU has AVX512_BF16
# each round also runs `minilm score --precision bf16`, and the report puts
# its speed beside f32's with its max and mean |Δscore| against f32.
#
# Each round also runs the repo's own FP32 peak benchmark (KernelPeak: the
# best microkernel on L1-resident data, one core), and the report puts
# minilm's useful GFLOP/s (every GEMM and attention product over real tokens,
# from the pairs' token counts and the model's config.json, as
# engine.BenchmarkScore counts them) against twice that peak: the fraction of
# the 2-core machine the whole process uses.
set -euo pipefail
rounds=${1:-5}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
model=${MINILM_BENCH_MODEL:-$root/../shared/golden/models/minilm-l6-random}
pairs=${MINILM_BENCH_PAIRS:-$root/testdata/bench_pairs.jsonl}
[ -f "$model/model.onnx" ] || { echo "compare.sh: no $model/model.onnx (the shared golden folder must sit beside the repo)" >&2; exit 2; }

if [ ! -d "$here/node_modules/onnxruntime-node" ]; then
	# --ignore-scripts: the package's install script fetches GPU files from
	# outside the registry; the CPU library ships inside the package.
	(cd "$here" && npm install --ignore-scripts --no-package-lock --no-audit --no-fund --silent)
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$root" && CGO_ENABLED=0 go build -o "$work/minilm" ./cmd/minilm)
(cd "$root" && CGO_ENABLED=0 go test -c -o "$work/simd.test" ./kernels/cpu/internal/simd)
peak() {
	"$work/simd.test" -test.run '^$' -test.bench '^BenchmarkKernelPeak$' |
		awk '{for (i = 2; i <= NF; i++) if ($i == "GFLOP/s" && $(i-1) > m) m = $(i-1)} END {print m}'
}
gflop=$(node -e '
const fs = require("fs");
const c = JSON.parse(fs.readFileSync(process.argv[1] + "/config.json"));
const H = c.hidden_size, I = c.intermediate_size, layers = c.num_hidden_layers;
let f = 0;
for (const l of fs.readFileSync(process.argv[2], "utf8").split("\n").filter(Boolean)) {
  const L = JSON.parse(l).input_ids.length;
  f += layers * (2 * L * H * (4 * H + 2 * I) + 4 * L * L * H) + 2 * H * H + 2 * H;
}
console.log(f / 1e9);
' "$model" "$pairs")

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
n=$(wc -l <"$pairs")
: >"$work/minilm.txt"
: >"$work/ort.txt"
: >"$work/bf16.txt"
: >"$work/peak.txt"
bf16=0
grep -qw avx512_bf16 /proc/cpuinfo 2>/dev/null && bf16=1
for r in $(seq "$rounds"); do
	start=$(date +%s.%N)
	"$work/minilm" score --quiet --threads 2 --batch-size 64 --model "$model" -o "$work/scores.jsonl" "$pairs"
	end=$(date +%s.%N)
	m=$(awk -v n="$n" -v a="$start" -v b="$end" 'BEGIN {print n / (b - a)}')
	node "$here/ort_bench.mjs" "$model/model.onnx" "$pairs" 64 2 >"$work/ort.json"
	o=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).pairs_per_s)' "$work/ort.json")
	printf 'round %d: minilm %.1f pairs/s (whole process)   onnxruntime %.1f pairs/s (inference only, sorted batches)\n' "$r" "$m" "$o"
	echo "$m" >>"$work/minilm.txt"
	echo "$o" >>"$work/ort.txt"
	p=$(peak)
	printf 'round %d: FP32 peak %.1f GFLOP/s on one core (KernelPeak)\n' "$r" "$p"
	echo "$p" >>"$work/peak.txt"
	if [ "$bf16" = 1 ]; then
		start=$(date +%s.%N)
		"$work/minilm" score --quiet --threads 2 --batch-size 64 --precision bf16 --model "$model" -o "$work/scores-bf16.jsonl" "$pairs"
		end=$(date +%s.%N)
		b=$(awk -v n="$n" -v a="$start" -v b="$end" 'BEGIN {print n / (b - a)}')
		printf 'round %d: minilm --precision bf16 %.1f pairs/s (whole process)\n' "$r" "$b"
		echo "$b" >>"$work/bf16.txt"
	fi
done
mm=$(median <"$work/minilm.txt")
om=$(median <"$work/ort.txt")
node -e '
const fs = require("fs");
const ort = JSON.parse(fs.readFileSync(process.argv[1])).logits;
const ours = fs.readFileSync(process.argv[2], "utf8").split("\n").filter(Boolean).map(l => JSON.parse(l).score);
let worst = 0;
ours.forEach((s, i) => { worst = Math.max(worst, Math.abs(s - ort[i])); });
console.log(`agreement: max |minilm - onnxruntime| over ${ours.length} logits = ${worst.toExponential(2)}`);
' "$work/ort.json" "$work/scores.jsonl"
printf 'median over %d rounds: minilm %.1f pairs/s, onnxruntime %.1f pairs/s, ratio %.2fx\n' "$rounds" "$mm" "$om" "$(awk -v a="$mm" -v b="$om" 'BEGIN {print a / b}')"
pm=$(median <"$work/peak.txt")
awk -v mm="$mm" -v n="$n" -v g="$gflop" -v p="$pm" 'BEGIN {
	u = mm * g / n
	printf "fraction of peak: minilm %.1f useful GFLOP/s (%.3f GFLOP/pair) = %.1f%% of 2 x %.1f GFLOP/s (median KernelPeak)\n", u, g / n, 100 * u / (2 * p), p
}'
if [ "$bf16" = 1 ]; then
	bm=$(median <"$work/bf16.txt")
	node -e '
const fs = require("fs");
const read = p => fs.readFileSync(p, "utf8").split("\n").filter(Boolean).map(l => JSON.parse(l).score);
const a = read(process.argv[1]), b = read(process.argv[2]);
let worst = 0, sum = 0;
a.forEach((s, i) => { const d = Math.abs(s - b[i]); worst = Math.max(worst, d); sum += d; });
console.log(`bf16 accuracy: max |bf16 - f32| over ${a.length} scores = ${worst.toFixed(4)}, mean ${(sum / a.length).toFixed(4)}`);
' "$work/scores.jsonl" "$work/scores-bf16.jsonl"
	printf 'median over %d rounds: f32 %.1f pairs/s | bf16 %.1f pairs/s (%.2fx f32, %.2fx onnxruntime)\n' "$rounds" "$mm" "$bm" "$(awk -v a="$bm" -v b="$mm" 'BEGIN {print a / b}')" "$(awk -v a="$bm" -v b="$om" 'BEGIN {print a / b}')"
else
	echo "bf16: not run (this CPU lacks AVX512_BF16; its accuracy, measured through the exact twin, is in README.md and TestBF16Accuracy)"
fi
