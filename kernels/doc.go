// Package kernels is the compute contract between the model (package engine)
// and the backends that run it: a small Backend interface and a closed set of
// ops, each documented with its exact math. kernels/ref implements every op in
// float64 as the oracle; kernels/optest checks any Backend against it.
package kernels
