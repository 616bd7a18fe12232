// Package benchreport holds what `minilm bench` measures with and writes:
// the statistics (percentiles, latency bands, correlation), the raw results
// and their JSON form, the Markdown report laid out like the Python
// baseline's, the SVG charts, process accounting from /proc, and the bundled
// set of benchmark pairs.
package benchreport
