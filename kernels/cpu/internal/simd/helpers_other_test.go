//go:build purego || !amd64

package simd

// helperImpls is impls(): only amd64 has two forms of the vector helpers.
func helperImpls() []impl { return impls() }
