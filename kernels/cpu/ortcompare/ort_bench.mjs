// ONNX Runtime's side of compare.sh: scores the bench pairs from their golden
// token ids in batches sorted by length (ORT's best case: least padding), and
// prints one JSON line with its throughput and logits.
//
// usage: node ort_bench.mjs MODEL.onnx PAIRS.jsonl BATCH THREADS
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');

const [model, pairsPath, batchArg, threadsArg] = process.argv.slice(2);
const batch = Number(batchArg || 64);
const threads = Number(threadsArg || 2);

const t0 = performance.now();
const recs = readFileSync(pairsPath, 'utf8').split('\n').filter(Boolean).map(JSON.parse);
const order = recs.map((_, i) => i).sort((a, b) => recs[a].input_ids.length - recs[b].input_ids.length);

const session = await ort.InferenceSession.create(model, {
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
});
const t1 = performance.now();

const logits = new Array(recs.length);
let padded = 0, real = 0;
for (let s = 0; s < order.length; s += batch) {
  const idx = order.slice(s, s + batch);
  const L = Math.max(...idx.map(i => recs[i].input_ids.length));
  const n = idx.length;
  const ids = new BigInt64Array(n * L), mask = new BigInt64Array(n * L), types = new BigInt64Array(n * L);
  idx.forEach((r, b) => {
    const rec = recs[r];
    rec.input_ids.forEach((v, t) => { ids[b * L + t] = BigInt(v); mask[b * L + t] = 1n; });
    rec.token_type_ids.forEach((v, t) => { types[b * L + t] = BigInt(v); });
    real += rec.input_ids.length;
  });
  padded += n * L;
  const out = await session.run({
    input_ids: new ort.Tensor('int64', ids, [n, L]),
    attention_mask: new ort.Tensor('int64', mask, [n, L]),
    token_type_ids: new ort.Tensor('int64', types, [n, L]),
  });
  const data = out.logits.data;
  idx.forEach((r, b) => { logits[r] = data[b]; });
}
const t2 = performance.now();

console.log(JSON.stringify({
  engine: 'onnxruntime-node',
  pairs: recs.length,
  load_s: (t1 - t0) / 1000,
  infer_s: (t2 - t1) / 1000,
  pairs_per_s: recs.length / ((t2 - t1) / 1000),
  padding_waste: 1 - real / padded,
  logits,
}));
