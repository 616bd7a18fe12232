package metal

//go:generate go run ./internal/argsgen -in args.go -out shaders/args.h

// Kernel argument structs, bound with setBytes at buffer index 0 of every
// kernel. This file is the single source of truth for their layout:
// internal/argsgen parses it and writes shaders/args.h (with _Static_assert
// sizes), and args_test.go fails when the header on disk is stale. Fields are
// 4-byte fixed-width types only, so C and Go agree without padding rules.

// matMulArgs is for matmul_f32: Out(M,N) = act(X(M,K)·W(N,K)ᵀ + Bias(N)).
type matMulArgs struct {
	M, N, K int32
	HasBias int32 // 0 or 1
	GELU    int32 // 0 or 1
}

// layerNormArgs is for layernorm_f32 over Rows rows of Cols columns.
type layerNormArgs struct {
	Rows, Cols int32
	HasRes     int32 // 0 or 1
	Eps        float32
}

// unaryArgs is for the elementwise kernels (gelu_f32, tanh_f32) over N values.
type unaryArgs struct {
	N int32
}

// embedArgs is for embed_f32: T tokens of width H.
type embedArgs struct {
	T, H int32
}

// gatherArgs is for gather_rows_f32: Rows output rows of Cols columns.
type gatherArgs struct {
	Rows, Cols int32
}

// attentionArgs is for attention_f32. Blocks is the number of query blocks
// in the block table; each block is one threadgroup per head.
type attentionArgs struct {
	NH, HD    int32
	Blocks    int32
	QKVStride int32 // floats per QKV row: 3·NH·HD
	OutStride int32 // floats per Out row: NH·HD
	Scale     float32
}
