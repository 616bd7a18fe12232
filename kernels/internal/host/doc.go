// Package host holds what the host-memory backends (kernels/ref and
// kernels/cpu) share: float32 Bufs kept in Go slices, their ownership and
// closed-backend bookkeeping, and the Run loop that vets each op with
// kernels.Check before the backend computes it.
package host
