package kernels

import (
	"context"
	"errors"
)

// ErrUnsupported is returned by a backend asked to run an op (or an op
// variant) it does not implement.
var ErrUnsupported = errors.New("kernels: op not supported by backend")

// Buf is a device-resident array of float32. Its contents are reachable only
// through the Backend that made it.
type Buf interface {
	Len() int
}

// Backend executes ops. Every backend (cpu, metal, the float64 reference) is
// checked against the reference by the same conformance suite (kernels/optest).
//
// A Backend is not safe for concurrent Run calls; callers that score from many
// goroutines hold one Backend (and its scratch) per in-flight batch or
// serialise access.
type Backend interface {
	// Name is "cpu", "metal", "ref"...; used in test and benchmark names.
	Name() string
	// Alloc returns a zeroed buffer of n float32s.
	Alloc(n int) (Buf, error)
	// Weight returns a constant [N,K] row-major matrix (a Hugging Face Linear
	// weight: out_features × in_features) for use as MatMul.W. A backend may
	// keep it in any layout it likes (packed panels, half precision...).
	// A Buf passed as MatMul.W must come from Weight; any other Buf may not be
	// used as MatMul.W. src is not retained.
	Weight(src []float32, n, k int) (Buf, error)
	// Upload copies src into dst[0:len(src)].
	Upload(dst Buf, src []float32) error
	// Download copies src[0:len(dst)] into dst.
	Download(dst []float32, src Buf) error
	// Run executes ops in order. Results are visible to Download when it
	// returns. It stops between ops when ctx is cancelled.
	Run(ctx context.Context, ops ...Op) error
	// Close releases the backend's resources; its Bufs become invalid.
	Close() error
}

// Op is one step of a forward pass. The set is closed: only the types in this
// file implement it, so a backend is one type switch and the conformance
// suite can list every op.
//
// Dims glossary used in the shapes below: T total tokens of a packed batch
// (the sum of the sequence lengths, no padding), B sequences, H hidden, NH
// heads, HD head dim (H = NH·HD), N and K a matrix's output and input widths.
type Op interface{ isOp() }

// Embed sums the three embedding tables for every token of a packed batch:
//
//	Out[t,:] = Word[IDs[t],:] + Pos[t - Seqs[b],:] + Type[TypeIDs[t],:]
//
// for t in [Seqs[b], Seqs[b+1]). Out is (T,H); Word is (V,H); Pos is
// (maxPos,H); Type is (typeVocab,H); IDs and TypeIDs have length T; Seqs has
// length B+1 with Seqs[0] = 0 and Seqs[B] = T (cu_seqlens). Indices must be in
// range: the engine validates them before building the op.
type Embed struct {
	Out, Word, Pos, Type Buf
	IDs, TypeIDs, Seqs   []int32
	H                    int
}

// LayerNorm normalises each row of X (+ Res when Res is not nil):
//
//	y = X[r,:] + Res[r,:]
//	Out[r,:] = (y - mean(y)) / sqrt(var(y) + Eps) * Gamma + Beta
//
// with the biased variance (mean of squared deviations), as torch.nn.LayerNorm.
// X, Res and Out are (Rows,Cols); Gamma and Beta are (Cols). Out may alias X
// or Res.
type LayerNorm struct {
	Out, X, Res, Gamma, Beta Buf
	Rows, Cols               int
	Eps                      float32
}

// MatMul is a Linear layer with an optional fused activation:
//
//	Out[m,n] = act(sum_k X[m,k]·W[n,k] + Bias[n])
//
// X is (M,K), W is (N,K) made by Backend.Weight, Bias is (N) or nil, Out is
// (M,N). act is the identity, or exact GELU when GELU is set (the unfused
// definition is MatMul followed by the GELU op). Out must not alias X.
//
// Scratch says that nothing reads Out but the next op, a MatMul whose X it
// is (BERT's intermediate activation): Out's contents after Run are then
// unspecified, and a backend may hand that MatMul the result in a form of
// its own without writing Out (the CPU backend in bf16 hands it bf16 pairs).
// Backends that do not, compute Out as usual.
type MatMul struct {
	Out, X, W, Bias Buf
	M, N, K         int
	GELU            bool
	Scratch         bool
}

// GELU is the exact (erf) form used by Hugging Face's "gelu":
//
//	Out[i] = X[i]/2 · (1 + erf(X[i]/√2))
//
// for i < N. Out may alias X.
type GELU struct {
	Out, X Buf
	N      int
}

// Attention is multi-head self-attention over a packed batch of sequences,
// each attending only within itself (no mask tensor, no padding):
//
//	for each sequence b, head h, query i in [Seqs[b], Seqs[b+1]):
//	  s[j]  = Scale · Σ_d Q[i,h,d]·K[j,h,d]     for j in the same sequence
//	  p     = softmax(s)                          (max-subtracted)
//	  Out[i, h·HD + d] = Σ_j p[j]·V[j,h,d]
//
// QKV is (T, 3·NH·HD): columns [0,H) hold Q, [H,2H) K and [2H,3H) V, head h at
// offset h·HD within each. Out is (T, NH·HD). Seqs is cu_seqlens as in Embed.
type Attention struct {
	Out, QKV Buf
	Seqs     []int32
	NH, HD   int
	Scale    float32
}

// GatherRows copies selected rows: Out[i,:] = X[Rows[i],:] for i < len(Rows).
// X is (*,Cols), Out is (len(Rows),Cols). The engine uses it to take each
// sequence's [CLS] row for the pooler.
type GatherRows struct {
	Out, X Buf
	Rows   []int32
	Cols   int
}

// Tanh is Out[i] = tanh(X[i]) for i < N (the BERT pooler's activation). Out may
// alias X.
type Tanh struct {
	Out, X Buf
	N      int
}

func (Embed) isOp()      {}
func (LayerNorm) isOp()  {}
func (MatMul) isOp()     {}
func (GELU) isOp()       {}
func (Attention) isOp()  {}
func (GatherRows) isOp() {}
func (Tanh) isOp()       {}

// HostWrapper is implemented by backends that can use host memory in place
// (the CPU backend; Metal on unified memory). The engine wraps the
// memory-mapped embedding tables and vectors this way, so worker processes
// that map the same model file share those pages instead of each holding a
// copy. The Buf must not be written by any op.
type HostWrapper interface {
	Wrap(host []float32) (Buf, error)
}
