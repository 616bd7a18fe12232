// Package bench measures a scorer as `minilm bench` does and writes what it
// measured: the Runner drives client goroutines through an engine/batch
// Batcher and records every batch's latency and stages, the results
// (Results, results.json) hold them with the statistics derived from them
// (percentiles, latency bands, correlation, time series), and the writers
// lay them out like the Python baseline's report (report.md) with SVG
// charts. A load-test client of another transport (HTTP) fills the same
// Results to write the same files. Also here: process accounting from
// /proc and the bundled set of benchmark pairs.
package bench
