// The peer of serve_compare.sh: ONNX Runtime (npm onnxruntime-node, CPU)
// behind a small Node HTTP server, as a Python or Node reranker service is
// usually built: each request is tokenized (Hugging Face's tokenizers.js,
// from the model's tokenizer.json) and run as one batch, padded to its
// longest pair. It speaks the rerank API minilm serve does, so the same
// load test drives both:
//
//   POST /v1/rerank {"query", "documents": [...]} → {"results": [{"index", "relevance_score"}]}
//   POST /rerank    {"query", "texts": [...]}     → [{"index", "score"}]
//
// usage: node ort_server.mjs MODEL_DIR PORT THREADS
// Prints "listening PORT" once the model is loaded (PORT 0: a free port).
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { Tokenizer } from '@huggingface/tokenizers';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');

const [dir, portArg, threadsArg] = process.argv.slice(2);
const threads = Number(threadsArg || 2);
const maxLen = 512;
const tok = new Tokenizer(JSON.parse(readFileSync(`${dir}/tokenizer.json`, 'utf8')),
  JSON.parse(readFileSync(`${dir}/tokenizer_config.json`, 'utf8')));
const session = await ort.InferenceSession.create(`${dir}/model.onnx`, {
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
});

// encode tokenizes a pair; over maxLen, the passage is cut (the bench pairs
// never are).
function encode(query, passage) {
  const e = tok.encode(query, { text_pair: passage, return_token_type_ids: true });
  let ids = e.ids, types = e.token_type_ids;
  if (ids.length > maxLen) {
    ids = ids.slice(0, maxLen - 1).concat(ids[ids.length - 1]);
    types = types.slice(0, maxLen);
  }
  return { ids, types };
}

async function score(query, docs) {
  const encs = docs.map(d => encode(query, d));
  const n = encs.length, L = Math.max(...encs.map(e => e.ids.length));
  const ids = new BigInt64Array(n * L), mask = new BigInt64Array(n * L), types = new BigInt64Array(n * L);
  let tokens = 0;
  encs.forEach((e, b) => {
    e.ids.forEach((v, t) => { ids[b * L + t] = BigInt(v); mask[b * L + t] = 1n; types[b * L + t] = BigInt(e.types[t]); });
    tokens += e.ids.length;
  });
  const out = await session.run({
    input_ids: new ort.Tensor('int64', ids, [n, L]),
    attention_mask: new ort.Tensor('int64', mask, [n, L]),
    token_type_ids: new ort.Tensor('int64', types, [n, L]),
  });
  return { logits: Array.from(out.logits.data), tokens };
}

const sigmoid = x => 1 / (1 + Math.exp(-x));

const server = createServer((req, res) => {
  let body = '';
  req.on('data', c => { body += c; });
  req.on('end', async () => {
    try {
      const r = JSON.parse(body);
      const docs = (r.documents || r.texts).map(d => (typeof d === 'string' ? d : d.text));
      const { logits, tokens } = await score(r.query, docs);
      const ranked = logits.map((x, index) => ({ index, s: sigmoid(x) })).sort((a, b) => b.s - a.s);
      const reply = req.url === '/rerank'
        ? ranked.map(x => ({ index: x.index, score: x.s }))
        : { results: ranked.map(x => ({ index: x.index, relevance_score: x.s })), usage: { total_tokens: tokens } };
      res.writeHead(200, { 'content-type': 'application/json', 'x-compute-tokens': String(tokens) });
      res.end(JSON.stringify(reply));
    } catch (e) {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: String(e), error_type: 'validation' }));
    }
  });
});
server.listen(Number(portArg), '127.0.0.1', () => console.log(`listening ${server.address().port}`));
