#!/usr/bin/env bash
# serve_compare.sh: minilm serve under load against `minilm score` on the same
# pairs from a file, and against ONNX Runtime behind a Node HTTP server doing
# one batch per request (ort_server.mjs); the full-size MiniLM-L6-shaped model,
# 2 threads each, interleaved rounds on the same machine.
#
#   bash kernels/cpu/ortcompare/serve_compare.sh [ROUNDS]      (from the repo root)
#
# Each round: (1) `minilm score --threads 2` over the pairs the load test sends
# (whole process, start-up included), pairs/s; (2) `minilm serve --threads 2`
# driven by `minilm loadtest --clients 64 --docs 20` for $DURATION; (3) the ORT
# server driven by the same load test. Prints each round, the medians, and the
# ratios serve/score, serve/ORT and serve's p99/p50, with the CPU and load.
set -euo pipefail
rounds=${1:-3}
duration=${DURATION:-15s}
clients=${CLIENTS:-64}
docs=${DOCS:-20}
requests=${SCORE_REQUESTS:-100} # requests' worth of pairs for minilm score
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
model=${MINILM_BENCH_MODEL:-$root/../shared/golden/models/minilm-l6-random}
[ -f "$model/model.onnx" ] || { echo "serve_compare.sh: no $model/model.onnx (the shared golden folder must sit beside the repo)" >&2; exit 2; }
command -v curl >/dev/null || { echo "serve_compare.sh: needs curl" >&2; exit 2; }

if [ ! -d "$here/node_modules/onnxruntime-node" ] || [ ! -d "$here/node_modules/@huggingface/tokenizers" ]; then
	# --ignore-scripts: onnxruntime-node's install script fetches GPU files
	# from outside the registry; the CPU library ships inside the package.
	(cd "$here" && npm install --ignore-scripts --no-package-lock --no-audit --no-fund --silent)
fi

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
(cd "$root" && CGO_ENABLED=0 go build -o "$work/minilm" ./cmd/minilm)

# The pairs the load test sends, in its order (request r: the query of bench
# pair (docs+1)·r, the passages of the docs pairs after it), for
# $SCORE_REQUESTS requests: what `minilm score` scores from a file.
node -e '
const fs = require("fs");
const [src, docs, n] = [process.argv[1], +process.argv[2], +process.argv[3]];
const P = fs.readFileSync(src, "utf8").split("\n").filter(Boolean).map(JSON.parse);
const out = [];
for (let r = 0; r < n; r++) {
  const q = P[((docs + 1) * r) % P.length].query;
  for (let i = 0; i < docs; i++) out.push(JSON.stringify({ query: q, passage: P[((docs + 1) * r + 1 + i) % P.length].passage }));
}
fs.writeFileSync(process.argv[4], out.join("\n") + "\n");
' "$root/testdata/bench_pairs.jsonl" "$docs" "$requests" "$work/pairs.jsonl"
npairs=$(wc -l <"$work/pairs.jsonl")

# wait_for FILE REGEX: the first match of REGEX's group in FILE, within 5 min.
wait_for() {
	for _ in $(seq 3000); do
		if m=$(sed -nE "s/$2/\1/p" "$1" | head -1) && [ -n "$m" ]; then echo "$m"; return; fi
		sleep 0.1
	done
	echo "serve_compare.sh: timed out waiting for /$2/ in $1:" >&2; cat "$1" >&2; exit 1
}

# loadtest URL NAME: runs the load test, prints "pairs/s p50 p99".
loadtest() {
	"$work/minilm" loadtest --server "$1" --clients "$clients" --docs "$docs" --duration "$duration" -o "$work/lt-$2" >"$work/lt-$2.txt" 2>>"$work/lt.log"
	sed -nE 's/.*pairs\/s ([0-9.]+), latency p50 ([0-9.]+) p90 [0-9.]+ p99 ([0-9.]+) ms, answers by status (.*)/\1 \2 \3 \4/p' "$work/lt-$2.txt"
}

echo "CPU: $(lscpu | sed -nE 's/^Model name: *//p'), $(nproc) cores; load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "model: $model; $clients clients x $docs documents, $duration per load test; minilm score over $npairs pairs"
: >"$work/score.txt"; : >"$work/serve.txt"; : >"$work/ort.txt"; : >"$work/ratio_p.txt"
for r in $(seq "$rounds"); do
	start=$(date +%s.%N)
	"$work/minilm" score --quiet --threads 2 --model "$model" -o "$work/scores.jsonl" "$work/pairs.jsonl"
	end=$(date +%s.%N)
	score=$(awk -v n="$npairs" -v a="$start" -v b="$end" 'BEGIN {print n / (b - a)}')

	"$work/minilm" serve --model "$model" --threads 2 --addr 127.0.0.1:0 2>"$work/serve.log" &
	pids+=($!); spid=$!
	addr=$(wait_for "$work/serve.log" '.*msg=listening addr=([0-9.:]+).*')
	until curl -sf "http://$addr/ready" >/dev/null; do sleep 0.2; done
	read -r sp s50 s99 sstat < <(loadtest "http://$addr" "serve-$r")
	kill -TERM "$spid"; wait "$spid"

	node "$here/ort_server.mjs" "$model" 0 2 >"$work/ort.log" 2>&1 &
	pids+=($!); opid=$!
	port=$(wait_for "$work/ort.log" '^listening ([0-9]+)')
	read -r op o50 o99 ostat < <(loadtest "http://127.0.0.1:$port" "ort-$r")
	kill "$opid"; wait "$opid" 2>/dev/null || true

	printf 'round %d (load %s): minilm score %.1f pairs/s | minilm serve %.1f pairs/s p50 %s p99 %s ms %s | onnxruntime server %.1f pairs/s p50 %s p99 %s ms %s\n' \
		"$r" "$(cut -d' ' -f1 /proc/loadavg)" "$score" "$sp" "$s50" "$s99" "$sstat" "$op" "$o50" "$o99" "$ostat"
	echo "$score" >>"$work/score.txt"; echo "$sp" >>"$work/serve.txt"; echo "$op" >>"$work/ort.txt"
	awk -v a="$s99" -v b="$s50" 'BEGIN {print a / b}' >>"$work/ratio_p.txt"
done
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
sc=$(median <"$work/score.txt"); sv=$(median <"$work/serve.txt"); ot=$(median <"$work/ort.txt"); pr=$(median <"$work/ratio_p.txt")
printf 'median over %d rounds: minilm score %.1f, minilm serve %.1f, onnxruntime server %.1f pairs/s\n' "$rounds" "$sc" "$sv" "$ot"
printf 'ratios: serve/score %.2f (goal >= 0.90), serve/onnxruntime %.2fx (goal >= 1.5), serve p99/p50 %.2f (goal <= 4)\n' \
	"$(awk -v a="$sv" -v b="$sc" 'BEGIN {print a / b}')" "$(awk -v a="$sv" -v b="$ot" 'BEGIN {print a / b}')" "$pr"
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
