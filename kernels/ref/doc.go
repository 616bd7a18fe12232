// Package ref is the reference Backend: every op of package kernels computed
// exactly as its doc comment states, in float64, rounding to float32 once at
// the end of each op. It is slow on purpose and exists to be the oracle that
// kernels/optest checks every other backend against; nothing in production
// should run on it.
package ref
