// Package cpu is the production CPU backend: every op of package kernels in
// pure Go, spread over a fixed pool of worker goroutines made by New.
//
// MatMul keeps each weight prepacked in column panels (see Backend.Weight) and
// runs a register-tiled kernel; every output element is a float32 sum over k
// in increasing order, whatever M, the row's position in the batch, or the
// number of threads, so a pair scores the same in any batch. Attention runs
// per (sequence, head, query block) with one score row per worker. GELU uses an
// erf within 1 ulp of math.Erf rounded to float32. Each fast kernel has a slow twin
// in the same package that the tests compare it with.
package cpu
