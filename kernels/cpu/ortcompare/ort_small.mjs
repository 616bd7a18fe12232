// ONNX Runtime's side of small_compare.sh: the reranker's typical call, one
// query with N passages, timed alone (tokenization with Hugging Face's
// tokenizers.js included, as minilm's engine.Score includes its own), the
// same calls BenchmarkSmallRequests makes: call i pairs query i with
// passages i, i+1, … of the bench pairs. Prints one JSON line per N with
// the p50 and p99 latency in ms.
//
// usage: node ort_small.mjs MODEL_DIR PAIRS.jsonl THREADS CALLS N...
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { Tokenizer } from '@huggingface/tokenizers';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');

const [dir, pairsPath, threadsArg, callsArg, ...sizes] = process.argv.slice(2);
const threads = Number(threadsArg || 2);
const calls = Number(callsArg || 40);
const recs = readFileSync(pairsPath, 'utf8').split('\n').filter(Boolean).map(JSON.parse);
const tok = new Tokenizer(JSON.parse(readFileSync(`${dir}/tokenizer.json`, 'utf8')),
  JSON.parse(readFileSync(`${dir}/tokenizer_config.json`, 'utf8')));
const session = await ort.InferenceSession.create(`${dir}/model.onnx`, {
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
});

async function score(query, docs) {
  const encs = docs.map(d => tok.encode(query, { text_pair: d, return_token_type_ids: true }));
  const n = encs.length, L = Math.max(...encs.map(e => e.ids.length));
  const ids = new BigInt64Array(n * L), mask = new BigInt64Array(n * L), types = new BigInt64Array(n * L);
  encs.forEach((e, b) => {
    e.ids.forEach((v, t) => { ids[b * L + t] = BigInt(v); mask[b * L + t] = 1n; types[b * L + t] = BigInt(e.token_type_ids[t]); });
  });
  const out = await session.run({
    input_ids: new ort.Tensor('int64', ids, [n, L]),
    attention_mask: new ort.Tensor('int64', mask, [n, L]),
    token_type_ids: new ort.Tensor('int64', types, [n, L]),
  });
  return out.logits.data;
}

// Quantiles index the sorted latencies as the Go benchmark does.
const q = (lat, p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
await score(recs[0].query, [recs[0].passage]); // warm-up: first-run allocations
for (const arg of sizes) {
  const n = Number(arg);
  const lat = [];
  for (let i = 0; i < calls; i++) {
    const docs = Array.from({ length: n }, (_, j) => recs[(i + j) % recs.length].passage);
    const t = performance.now();
    await score(recs[i % recs.length].query, docs);
    lat.push(performance.now() - t);
  }
  lat.sort((a, b) => a - b);
  console.log(JSON.stringify({ engine: 'onnxruntime-node', pairs: n, calls, p50_ms: q(lat, 0.5), p99_ms: q(lat, 0.99) }));
}
