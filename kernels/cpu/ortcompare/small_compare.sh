#!/usr/bin/env bash
# small_compare.sh: the reranker's typical call, one query with N passages,
# minilm's engine against ONNX Runtime on the same machine, interleaved.
#
#   bash kernels/cpu/ortcompare/small_compare.sh [ROUNDS [CALLS [N...]]]   (from the repo root)
#
# Defaults: 3 rounds, 40 calls per size (one pair: 20 times as many, at most
# the 512 bench pairs), N = 1 20 64 100. Both sides make the same calls (call
# i: query i of the bench pairs with passages i, i+1, …), each alone, 2
# threads, tokenization included: minilm through BenchmarkSmallRequests
# (engine.Score), ONNX Runtime 1.30 through ort_small.mjs (Hugging Face's
# tokenizers.js, then one session.run per call). Each round runs, size by
# size, minilm then ONNX Runtime, and prints p50/p99 and the p50 ratio
# minilm/onnxruntime; the summary gives the median ratio over the rounds and,
# when N includes 20 and 64, minilm's 1×20 p50 against 20/64 of its 64-pair
# p50.
set -euo pipefail
rounds=${1:-3}
calls=${2:-40}
shift $(($# > 2 ? 2 : $#))
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1 20 64 100)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
model=$root/../shared/golden/models/minilm-l6-random # the one BenchmarkSmallRequests reads
pairs=$root/testdata/bench_pairs.jsonl
[ -f "$model/model.onnx" ] || { echo "small_compare.sh: no $model/model.onnx (the shared golden folder must sit beside the repo)" >&2; exit 2; }

if [ ! -d "$here/node_modules/onnxruntime-node" ] || [ ! -d "$here/node_modules/@huggingface/tokenizers" ]; then
	# --ignore-scripts: the package's install script fetches GPU files from
	# outside the registry; the CPU library ships inside the package.
	(cd "$here" && npm install --ignore-scripts --no-package-lock --no-audit --no-fund --silent)
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$root" && CGO_ENABLED=0 go test -c -o "$work/engine.test" ./engine/)
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
for r in $(seq "$rounds"); do
	for n in "${sizes[@]}"; do
		c=$calls
		[ "$n" != 1 ] || c=$((calls * 20 > 512 ? 512 : calls * 20))
		(cd "$root/engine" && "$work/engine.test" -test.run '^$' -test.bench "SmallRequests/pairs=$n\$" -test.benchtime "${c}x") >"$work/go.txt"
		node "$here/ort_small.mjs" "$model" "$pairs" 2 "$c" "$n" >"$work/ort.txt"
		read -r gp50 gp99 < <(awk -v n="$n" '$1 ~ "pairs=" n "-" {for (i = 1; i < NF; i++) {if ($(i+1) == "p50-ms") a = $i; if ($(i+1) == "p99-ms") b = $i}; print a, b}' "$work/go.txt")
		[ -n "${gp50:-}" ] || { echo "small_compare.sh: no minilm figure for N=$n:" >&2; cat "$work/go.txt" >&2; exit 1; }
		read -r op50 op99 < <(node -e 'for (const l of require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean)) { const j = JSON.parse(l); if (j.pairs === Number(process.argv[2])) console.log(j.p50_ms, j.p99_ms); }' "$work/ort.txt" "$n")
		ratio=$(awk -v a="$gp50" -v b="$op50" 'BEGIN {print a / b}')
		printf 'round %d, 1×%-3d (%d calls): minilm p50 %8.2f ms p99 %8.2f | onnxruntime p50 %8.2f ms p99 %8.2f | p50 ratio %.2f\n' "$r" "$n" "$c" "$gp50" "$gp99" "$op50" "$op99" "$ratio"
		echo "$ratio" >>"$work/ratio-$n.txt"
		echo "$gp50" >>"$work/p50-$n.txt"
	done
done
for n in "${sizes[@]}"; do
	printf 'median over %d rounds, 1×%-3d: minilm p50 %.2f ms, p50 ratio minilm/onnxruntime %.2f\n' "$rounds" "$n" "$(median <"$work/p50-$n.txt")" "$(median <"$work/ratio-$n.txt")"
done
if [ -f "$work/p50-20.txt" ] && [ -f "$work/p50-64.txt" ]; then
	awk -v a="$(median <"$work/p50-20.txt")" -v b="$(median <"$work/p50-64.txt")" \
		'BEGIN {printf "1×20 against a 64-pair batch: %.2f ms = 20/64 × %.2f ms + %.2f ms\n", a, b, a - b * 20 / 64}'
fi
