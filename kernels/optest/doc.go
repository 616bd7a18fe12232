// Package optest is the op-conformance suite every kernels.Backend must pass
// (our test-backend-ops): Run checks each op of a backend against the float64
// reference (kernels/ref) over a table of cases (the model's real shapes, the
// tiny test model's, and sizes straddling SIMD and tile widths), and Bench
// times the same cases. A backend's test file calls them in one line:
//
//	func TestOps(t *testing.T)      { optest.Run(t, be) }
//	func BenchmarkOps(b *testing.B) { optest.Bench(b, be) }
//
// Each case states its tolerance (NMSE and max-abs, both must hold) with the
// reason for it. NaN anywhere fails; an Inf must match the reference's in
// place and sign.
package optest
