// Package metal is the Apple-GPU backend: hand-written Metal compute kernels
// (shaders/*.metal) driven through darwinkit, and the same kernels run on
// the CPU by a simulator so they are executed and checked on Linux too.
//
// # Design
//
// Platform-neutral Go (plan.go) turns each kernels.Op into dispatches: the
// kernel name, the buffers and host-built bytes bound at each
// [[buffer(n)]], and the threadgroup grid. The darwin layer
// (metal_darwin.go) only replays a plan: one command buffer and one serial
// compute encoder per Run, shared-storage buffers viewed in place through
// unified memory, pipelines made once in New. NewSimulated replays the same
// plans with the same shader source on the CPU (internal/mslsim).
//
// Kernels (f32 storage and accumulation throughout, except that
// Options.HalfWeights stores MatMul weights as IEEE half):
//
//   - matmul_f32: Out = act(X·Wᵀ + bias), act = identity or exact GELU. One
//     threadgroup per 32×32 output tile, 128 threads = 4 simdgroups in 2×2,
//     each owning 16×16 as 2×2 simdgroup_float8x8 accumulators; K staged 16
//     at a time in threadgroup memory, zero-padded, so any M, N, K works.
//   - matmul_f16w_f32: matmul_f32 (the same template, tiling and guards)
//     with W read as half and widened to f32 as it is staged, for
//     Options.HalfWeights; Weight rounds W to half once on the host (to
//     nearest, ties to even), so results are the f32 GEMM of the rounded
//     weights. The tests check it against the reference run on those same
//     rounded weights, and the tiny-f16 model against its goldens.
//   - layernorm_f32: residual add + LayerNorm, one threadgroup (32–256
//     threads) per row, two-pass mean and variance with simd_sum and
//     threadgroup partials.
//   - attention_f32: packed variable-length self-attention, one 32-thread
//     threadgroup per (32-query block, head); a thread per query with online
//     softmax, keys and values staged 32 at a time; HD ≤ 64.
//   - embed_f32, gather_rows_f32, gelu_f32, tanh_f32: one thread per element.
//
// Kernel arguments are declared once, in args.go; go generate writes
// shaders/args.h from it, and a test fails when the header is stale.
//
// darwinkit v0.5.0 panics in every wrapper that passes a Metal object
// through objc.WrapAsProtocol (SetComputePipelineState,
// SetBufferOffsetAtIndex_, NewComputePipelineStateWithFunctionError...); the
// package sends those selectors with objc.Call, and selectors.go holds every
// such selector, checked against darwinkit's sources by a test.
//
// # Checks on Linux
//
//	go run ./cmd/darwincheck          # type-checks the darwin-only files
//	go test ./kernels/metal/...       # simulator: conformance suite, thread
//	                                  # orders, whole tiny model
//
// The simulator needs clang++ 15 or later (apt-get install clang-16); the
// tests skip, saying so, only when none is found. Compiled simulators are
// cached under <os.UserCacheDir>/minilm/mslsim by content hash.
//
// # Running on a Mac
//
// On Apple Silicon with Xcode's command line tools (for cgo; xcode-select
// --install), from the repository root:
//
//	go test ./kernels/metal/          # TestGPUOps: the conformance suite on
//	                                  # the GPU; TestModelOnGPU: the tiny
//	                                  # golden model, logits within 1e-4;
//	                                  # both again with HalfWeights
//	go test -run TestGPUOps -v ./kernels/metal/
//	go run ./cmd/minilm score --backend metal ...
//
// The shaders are compiled from source when New runs, with fast math off; a
// compile error comes back from New with the Metal compiler's message. The
// simulator tests also run there if a clang++ ≥ 15 is on PATH (the executor
// uses ucontext and _setjmp, which macOS still provides but deprecates).
//
// What only a Mac can check, because the simulator compiles the shaders as
// C++ under a shim: that Apple's compiler accepts the source (address
// spaces are erased in the simulator, so mixing them up goes unnoticed
// there); the simdgroup_matrix layout, notably the transposed load the GEMM
// uses for W; the accuracy of Metal's exp, tanh, sqrt and division; real
// SIMD-group execution and divergence (the simulator only treats lanes that
// returned as inactive); device-memory ordering between threadgroups and
// dispatches (the simulator runs them one after another); out-of-bounds
// reads (only writes past a buffer's end are caught); each pipeline's
// maxTotalThreadsPerThreadgroup (New checks it against the plan); darwinkit's
// run-time marshalling, object lifetimes and command-buffer errors; speed.
package metal
