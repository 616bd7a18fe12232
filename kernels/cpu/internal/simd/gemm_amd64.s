//go:build !purego

#include "go_asm.h"
#include "textflag.h"

// Register use of the GEMM microkernels: R8..R13 the six X row pointers, BX
// the k index (X is read at (Rr)(BX*4)), AX (and SI) the packed panels,
// CX = K. Each accumulator lane holds one out[row][col] and sees one FMA per
// k, k ascending, as in kernelGeneric.

// AVX2STEP does one k of the 6×16 tile: Y(2r), Y(2r+1) += x[r][k]·W[k][0:16].
#define AVX2STEP(wo, xo) \
	VMOVUPS wo(AX), Y12; \
	VMOVUPS (wo+32)(AX), Y13; \
	VBROADCASTSS xo(R8)(BX*4), Y14; \
	VBROADCASTSS xo(R9)(BX*4), Y15; \
	VFMADD231PS Y12, Y14, Y0; \
	VFMADD231PS Y13, Y14, Y1; \
	VFMADD231PS Y12, Y15, Y2; \
	VFMADD231PS Y13, Y15, Y3; \
	VBROADCASTSS xo(R10)(BX*4), Y14; \
	VBROADCASTSS xo(R11)(BX*4), Y15; \
	VFMADD231PS Y12, Y14, Y4; \
	VFMADD231PS Y13, Y14, Y5; \
	VFMADD231PS Y12, Y15, Y6; \
	VFMADD231PS Y13, Y15, Y7; \
	VBROADCASTSS xo(R12)(BX*4), Y14; \
	VBROADCASTSS xo(R13)(BX*4), Y15; \
	VFMADD231PS Y12, Y14, Y8; \
	VFMADD231PS Y13, Y14, Y9; \
	VFMADD231PS Y12, Y15, Y10; \
	VFMADD231PS Y13, Y15, Y11

// LOADROWS loads K, the row pointers and the first panel from *tileArgs in DI.
#define LOADROWS \
	MOVQ tileArgs_k(DI), CX; \
	MOVQ (tileArgs_x+0)(DI), R8; \
	MOVQ (tileArgs_x+8)(DI), R9; \
	MOVQ (tileArgs_x+16)(DI), R10; \
	MOVQ (tileArgs_x+24)(DI), R11; \
	MOVQ (tileArgs_x+32)(DI), R12; \
	MOVQ (tileArgs_x+40)(DI), R13; \
	MOVQ tileArgs_w(DI), AX; \
	XORQ BX, BX

// KLOOP4 sets DX = K rounded down to a multiple of 4 (the unrolled part).
#define KLOOP4 \
	MOVQ CX, DX; \
	ANDQ $-4, DX

// LOADACC(V, r0..r11, w) loads the accumulators from out (SI = out, DX = row
// stride in bytes), two vectors of width w bytes per row.
#define LOADACC(V, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, w) \
	MOVQ tileArgs_out(DI), SI; \
	MOVQ tileArgs_ldo(DI), DX; \
	SHLQ $2, DX; \
	V (SI), a0; \
	V w(SI), a1; \
	ADDQ DX, SI; \
	V (SI), a2; \
	V w(SI), a3; \
	ADDQ DX, SI; \
	V (SI), a4; \
	V w(SI), a5; \
	ADDQ DX, SI; \
	V (SI), a6; \
	V w(SI), a7; \
	ADDQ DX, SI; \
	V (SI), a8; \
	V w(SI), a9; \
	ADDQ DX, SI; \
	V (SI), a10; \
	V w(SI), a11

// func gemm6x16AVX2(t *tileArgs)
TEXT ·gemm6x16AVX2(SB), NOSPLIT, $0-8
	MOVQ t+0(FP), DI
	LOADROWS
	MOVQ  tileArgs_accum(DI), DX
	TESTQ DX, DX
	JZ    avx2zero
	LOADACC(VMOVUPS, Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, 32)
	JMP   avx2start

avx2zero:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

avx2start:
	KLOOP4

avx2loop4:
	CMPQ BX, DX
	JGE  avx2tail
	AVX2STEP(0, 0)
	AVX2STEP(64, 4)
	AVX2STEP(128, 8)
	AVX2STEP(192, 12)
	ADDQ $256, AX
	ADDQ $4, BX
	JMP  avx2loop4

avx2tail:
	CMPQ BX, CX
	JGE  avx2bias
	AVX2STEP(0, 0)
	ADDQ $64, AX
	INCQ BX
	JMP  avx2tail

avx2bias:
	MOVQ  tileArgs_bias(DI), SI
	TESTQ SI, SI
	JZ    avx2store
	VMOVUPS (SI), Y12
	VMOVUPS 32(SI), Y13
	VADDPS  Y12, Y0, Y0
	VADDPS  Y13, Y1, Y1
	VADDPS  Y12, Y2, Y2
	VADDPS  Y13, Y3, Y3
	VADDPS  Y12, Y4, Y4
	VADDPS  Y13, Y5, Y5
	VADDPS  Y12, Y6, Y6
	VADDPS  Y13, Y7, Y7
	VADDPS  Y12, Y8, Y8
	VADDPS  Y13, Y9, Y9
	VADDPS  Y12, Y10, Y10
	VADDPS  Y13, Y11, Y11

avx2store:
	MOVQ tileArgs_out(DI), SI
	MOVQ tileArgs_ldo(DI), DX
	SHLQ $2, DX
	VMOVUPS Y0, (SI)
	VMOVUPS Y1, 32(SI)
	ADDQ    DX, SI
	VMOVUPS Y2, (SI)
	VMOVUPS Y3, 32(SI)
	ADDQ    DX, SI
	VMOVUPS Y4, (SI)
	VMOVUPS Y5, 32(SI)
	ADDQ    DX, SI
	VMOVUPS Y6, (SI)
	VMOVUPS Y7, 32(SI)
	ADDQ    DX, SI
	VMOVUPS Y8, (SI)
	VMOVUPS Y9, 32(SI)
	ADDQ    DX, SI
	VMOVUPS Y10, (SI)
	VMOVUPS Y11, 32(SI)
	VZEROUPPER
	RET

// AVX512STEP does one k of the 6×32 tile: Z(2r) += x[r][k]·panel0[k][0:16],
// Z(2r+1) += x[r][k]·panel1[k][0:16]; AX is panel 0, SI panel 1.
#define AVX512STEP(wo, xo) \
	VMOVUPS wo(AX), Z12; \
	VMOVUPS wo(SI), Z13; \
	VBROADCASTSS xo(R8)(BX*4), Z14; \
	VBROADCASTSS xo(R9)(BX*4), Z15; \
	VBROADCASTSS xo(R10)(BX*4), Z16; \
	VBROADCASTSS xo(R11)(BX*4), Z17; \
	VBROADCASTSS xo(R12)(BX*4), Z18; \
	VBROADCASTSS xo(R13)(BX*4), Z19; \
	VFMADD231PS Z12, Z14, Z0; \
	VFMADD231PS Z13, Z14, Z1; \
	VFMADD231PS Z12, Z15, Z2; \
	VFMADD231PS Z13, Z15, Z3; \
	VFMADD231PS Z12, Z16, Z4; \
	VFMADD231PS Z13, Z16, Z5; \
	VFMADD231PS Z12, Z17, Z6; \
	VFMADD231PS Z13, Z17, Z7; \
	VFMADD231PS Z12, Z18, Z8; \
	VFMADD231PS Z13, Z18, Z9; \
	VFMADD231PS Z12, Z19, Z10; \
	VFMADD231PS Z13, Z19, Z11

// ZEROZ12 clears the 12 ZMM accumulators.
#define ZEROZ12 \
	VPXORD Z0, Z0, Z0; \
	VPXORD Z1, Z1, Z1; \
	VPXORD Z2, Z2, Z2; \
	VPXORD Z3, Z3, Z3; \
	VPXORD Z4, Z4, Z4; \
	VPXORD Z5, Z5, Z5; \
	VPXORD Z6, Z6, Z6; \
	VPXORD Z7, Z7, Z7; \
	VPXORD Z8, Z8, Z8; \
	VPXORD Z9, Z9, Z9; \
	VPXORD Z10, Z10, Z10; \
	VPXORD Z11, Z11, Z11

// BIASZ12 adds the 32 bias values at SI to every row of the tile.
#define BIASZ12 \
	VMOVUPS (SI), Z12; \
	VMOVUPS 64(SI), Z13; \
	VADDPS  Z12, Z0, Z0; \
	VADDPS  Z13, Z1, Z1; \
	VADDPS  Z12, Z2, Z2; \
	VADDPS  Z13, Z3, Z3; \
	VADDPS  Z12, Z4, Z4; \
	VADDPS  Z13, Z5, Z5; \
	VADDPS  Z12, Z6, Z6; \
	VADDPS  Z13, Z7, Z7; \
	VADDPS  Z12, Z8, Z8; \
	VADDPS  Z13, Z9, Z9; \
	VADDPS  Z12, Z10, Z10; \
	VADDPS  Z13, Z11, Z11

// STOREZ12 writes the 6×32 tile to out.
#define STOREZ12 \
	MOVQ tileArgs_out(DI), SI; \
	MOVQ tileArgs_ldo(DI), DX; \
	SHLQ $2, DX; \
	VMOVUPS Z0, (SI); \
	VMOVUPS Z1, 64(SI); \
	ADDQ    DX, SI; \
	VMOVUPS Z2, (SI); \
	VMOVUPS Z3, 64(SI); \
	ADDQ    DX, SI; \
	VMOVUPS Z4, (SI); \
	VMOVUPS Z5, 64(SI); \
	ADDQ    DX, SI; \
	VMOVUPS Z6, (SI); \
	VMOVUPS Z7, 64(SI); \
	ADDQ    DX, SI; \
	VMOVUPS Z8, (SI); \
	VMOVUPS Z9, 64(SI); \
	ADDQ    DX, SI; \
	VMOVUPS Z10, (SI); \
	VMOVUPS Z11, 64(SI)

// NEXTGROUP(top, done) jumps to done after the last of tileArgs.groups row
// groups; otherwise it moves the six row pointers and out down six rows (in
// *tileArgs, which LOADROWS reads again) and jumps to top.
#define NEXTGROUP(top, done) \
	MOVQ  tileArgs_groups(DI), DX; \
	DECQ  DX; \
	JLE   done; \
	MOVQ  DX, tileArgs_groups(DI); \
	MOVQ  tileArgs_ldx(DI), DX; \
	IMULQ $24, DX; \
	ADDQ  DX, (tileArgs_x+0)(DI); \
	ADDQ  DX, (tileArgs_x+8)(DI); \
	ADDQ  DX, (tileArgs_x+16)(DI); \
	ADDQ  DX, (tileArgs_x+24)(DI); \
	ADDQ  DX, (tileArgs_x+32)(DI); \
	ADDQ  DX, (tileArgs_x+40)(DI); \
	MOVQ  tileArgs_ldo(DI), DX; \
	IMULQ $24, DX; \
	ADDQ  DX, tileArgs_out(DI); \
	JMP   top

// GEMM6X32(step, top, zero, start, loop4, tail, bias, store, done) is the
// body of a 6×32 ZMM microkernel whose k step is the macro step (AVX512STEP
// or BF16STEP), over tileArgs.groups row groups; the other arguments name
// its labels. SI walks panel 1, pstep floats after panel 0 (AX).
#define GEMM6X32(step, top, zero, start, loop4, tail, bias, store, done) \
	MOVQ t+0(FP), DI; \
top: \
	LOADROWS; \
	MOVQ  tileArgs_accum(DI), DX; \
	TESTQ DX, DX; \
	JZ    zero; \
	LOADACC(VMOVUPS, Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, 64); \
	JMP   start; \
zero: \
	ZEROZ12; \
start: \
	MOVQ tileArgs_pstep(DI), SI; \
	SHLQ $2, SI; \
	ADDQ AX, SI; \
	KLOOP4; \
loop4: \
	CMPQ BX, DX; \
	JGE  tail; \
	step(0, 0); \
	step(64, 4); \
	step(128, 8); \
	step(192, 12); \
	ADDQ $256, AX; \
	ADDQ $256, SI; \
	ADDQ $4, BX; \
	JMP  loop4; \
tail: \
	CMPQ BX, CX; \
	JGE  bias; \
	step(0, 0); \
	ADDQ $64, AX; \
	ADDQ $64, SI; \
	INCQ BX; \
	JMP  tail; \
bias: \
	MOVQ  tileArgs_bias(DI), SI; \
	TESTQ SI, SI; \
	JZ    store; \
	BIASZ12; \
store: \
	STOREZ12; \
	NEXTGROUP(top, done); \
done: \
	VZEROUPPER; \
	RET

// func gemm6x32AVX512(t *tileArgs)
TEXT ·gemm6x32AVX512(SB), NOSPLIT, $0-8
	GEMM6X32(AVX512STEP, avx512top, avx512zero, avx512start, avx512loop4, avx512tail, avx512bias, avx512store, avx512done)

// VDPBF16PS(b1, b2, b3, modrm) is one VDPBF16PS zmm, zmm, zmm (AVX512_BF16),
// given as bytes because the Go assembler has no mnemonic for it: the EVEX
// prefix 0x62 b1 b2 b3, the opcode 0x52 and the ModRM byte. The encodings
// below are GNU as's for "vdpbf16ps %zmm12/13, %zmm14..19, %zmm0..11".
#define VDPBF16PS(b1, b2, b3, modrm) \
	BYTE $0x62; BYTE $b1; BYTE $b2; BYTE $b3; BYTE $0x52; BYTE $modrm

// BF16STEP does one pair of k for the 6×32 tile: Z(2r) += the pairs x[r][k]
// · panel0[k][0:16] and Z(2r+1) += x[r][k] · panel1[k][0:16], as VDPBF16PS
// computes them (odd element first). AX is panel 0, SI panel 1.
#define BF16STEP(wo, xo) \
	VMOVUPS wo(AX), Z12; \
	VMOVUPS wo(SI), Z13; \
	VBROADCASTSS xo(R8)(BX*4), Z14; \
	VBROADCASTSS xo(R9)(BX*4), Z15; \
	VBROADCASTSS xo(R10)(BX*4), Z16; \
	VBROADCASTSS xo(R11)(BX*4), Z17; \
	VBROADCASTSS xo(R12)(BX*4), Z18; \
	VBROADCASTSS xo(R13)(BX*4), Z19; \
	VDPBF16PS(0xd2, 0x0e, 0x48, 0xc4); \
	VDPBF16PS(0xd2, 0x0e, 0x48, 0xcd); \
	VDPBF16PS(0xd2, 0x06, 0x48, 0xd4); \
	VDPBF16PS(0xd2, 0x06, 0x48, 0xdd); \
	VDPBF16PS(0xd2, 0x7e, 0x40, 0xe4); \
	VDPBF16PS(0xd2, 0x7e, 0x40, 0xed); \
	VDPBF16PS(0xd2, 0x76, 0x40, 0xf4); \
	VDPBF16PS(0xd2, 0x76, 0x40, 0xfd); \
	VDPBF16PS(0x52, 0x6e, 0x40, 0xc4); \
	VDPBF16PS(0x52, 0x6e, 0x40, 0xcd); \
	VDPBF16PS(0x52, 0x66, 0x40, 0xd4); \
	VDPBF16PS(0x52, 0x66, 0x40, 0xdd)

// func gemm6x32BF16(t *tileArgs)
TEXT ·gemm6x32BF16(SB), NOSPLIT, $0-8
	GEMM6X32(BF16STEP, bf16top, bf16zero, bf16start, bf16loop4, bf16tail, bf16bias, bf16store, bf16done)

// BF16STEP64 does one pair of k for the 6×64 tile: Z(4r+p) += the pairs
// x[r][k] · panel_p[k][0:16], p < 4, as VDPBF16PS computes them. AX is
// panel 0, SI panel 1, DI the distance (bytes) to panels 2 and 3; the
// broadcasts alternate between Z28 and Z29. GNU as's encodings of
// "vdpbf16ps %zmm24..27, %zmm28/29, %zmm0..23".
#define BF16STEP64(wo, xo) \
	VMOVUPS wo(AX), Z24; \
	VMOVUPS wo(SI), Z25; \
	VMOVUPS wo(AX)(DI*1), Z26; \
	VMOVUPS wo(SI)(DI*1), Z27; \
	VBROADCASTSS xo(R8)(BX*4), Z28; \
	VDPBF16PS(0x92, 0x1e, 0x40, 0xc0); \
	VDPBF16PS(0x92, 0x1e, 0x40, 0xc9); \
	VDPBF16PS(0x92, 0x1e, 0x40, 0xd2); \
	VDPBF16PS(0x92, 0x1e, 0x40, 0xdb); \
	VBROADCASTSS xo(R9)(BX*4), Z29; \
	VDPBF16PS(0x92, 0x16, 0x40, 0xe0); \
	VDPBF16PS(0x92, 0x16, 0x40, 0xe9); \
	VDPBF16PS(0x92, 0x16, 0x40, 0xf2); \
	VDPBF16PS(0x92, 0x16, 0x40, 0xfb); \
	VBROADCASTSS xo(R10)(BX*4), Z28; \
	VDPBF16PS(0x12, 0x1e, 0x40, 0xc0); \
	VDPBF16PS(0x12, 0x1e, 0x40, 0xc9); \
	VDPBF16PS(0x12, 0x1e, 0x40, 0xd2); \
	VDPBF16PS(0x12, 0x1e, 0x40, 0xdb); \
	VBROADCASTSS xo(R11)(BX*4), Z29; \
	VDPBF16PS(0x12, 0x16, 0x40, 0xe0); \
	VDPBF16PS(0x12, 0x16, 0x40, 0xe9); \
	VDPBF16PS(0x12, 0x16, 0x40, 0xf2); \
	VDPBF16PS(0x12, 0x16, 0x40, 0xfb); \
	VBROADCASTSS xo(R12)(BX*4), Z28; \
	VDPBF16PS(0x82, 0x1e, 0x40, 0xc0); \
	VDPBF16PS(0x82, 0x1e, 0x40, 0xc9); \
	VDPBF16PS(0x82, 0x1e, 0x40, 0xd2); \
	VDPBF16PS(0x82, 0x1e, 0x40, 0xdb); \
	VBROADCASTSS xo(R13)(BX*4), Z29; \
	VDPBF16PS(0x82, 0x16, 0x40, 0xe0); \
	VDPBF16PS(0x82, 0x16, 0x40, 0xe9); \
	VDPBF16PS(0x82, 0x16, 0x40, 0xf2); \
	VDPBF16PS(0x82, 0x16, 0x40, 0xfb)

// LOADACC64 loads the 24 accumulators from out (four vectors per row).
#define LOADACC64 \
	MOVQ tileArgs_out(DI), SI; \
	MOVQ tileArgs_ldo(DI), DX; \
	SHLQ $2, DX; \
	VMOVUPS 0(SI), Z0; \
	VMOVUPS 64(SI), Z1; \
	VMOVUPS 128(SI), Z2; \
	VMOVUPS 192(SI), Z3; \
	ADDQ DX, SI; \
	VMOVUPS 0(SI), Z4; \
	VMOVUPS 64(SI), Z5; \
	VMOVUPS 128(SI), Z6; \
	VMOVUPS 192(SI), Z7; \
	ADDQ DX, SI; \
	VMOVUPS 0(SI), Z8; \
	VMOVUPS 64(SI), Z9; \
	VMOVUPS 128(SI), Z10; \
	VMOVUPS 192(SI), Z11; \
	ADDQ DX, SI; \
	VMOVUPS 0(SI), Z12; \
	VMOVUPS 64(SI), Z13; \
	VMOVUPS 128(SI), Z14; \
	VMOVUPS 192(SI), Z15; \
	ADDQ DX, SI; \
	VMOVUPS 0(SI), Z16; \
	VMOVUPS 64(SI), Z17; \
	VMOVUPS 128(SI), Z18; \
	VMOVUPS 192(SI), Z19; \
	ADDQ DX, SI; \
	VMOVUPS 0(SI), Z20; \
	VMOVUPS 64(SI), Z21; \
	VMOVUPS 128(SI), Z22; \
	VMOVUPS 192(SI), Z23

// STOREACC64 writes the 6×64 tile to out.
#define STOREACC64 \
	MOVQ tileArgs_out(DI), SI; \
	MOVQ tileArgs_ldo(DI), DX; \
	SHLQ $2, DX; \
	VMOVUPS Z0, 0(SI); \
	VMOVUPS Z1, 64(SI); \
	VMOVUPS Z2, 128(SI); \
	VMOVUPS Z3, 192(SI); \
	ADDQ DX, SI; \
	VMOVUPS Z4, 0(SI); \
	VMOVUPS Z5, 64(SI); \
	VMOVUPS Z6, 128(SI); \
	VMOVUPS Z7, 192(SI); \
	ADDQ DX, SI; \
	VMOVUPS Z8, 0(SI); \
	VMOVUPS Z9, 64(SI); \
	VMOVUPS Z10, 128(SI); \
	VMOVUPS Z11, 192(SI); \
	ADDQ DX, SI; \
	VMOVUPS Z12, 0(SI); \
	VMOVUPS Z13, 64(SI); \
	VMOVUPS Z14, 128(SI); \
	VMOVUPS Z15, 192(SI); \
	ADDQ DX, SI; \
	VMOVUPS Z16, 0(SI); \
	VMOVUPS Z17, 64(SI); \
	VMOVUPS Z18, 128(SI); \
	VMOVUPS Z19, 192(SI); \
	ADDQ DX, SI; \
	VMOVUPS Z20, 0(SI); \
	VMOVUPS Z21, 64(SI); \
	VMOVUPS Z22, 128(SI); \
	VMOVUPS Z23, 192(SI)

// BIAS64 adds the 64 bias values at SI to every row of the tile.
#define BIAS64 \
	VMOVUPS 0(SI), Z24; \
	VMOVUPS 64(SI), Z25; \
	VMOVUPS 128(SI), Z26; \
	VMOVUPS 192(SI), Z27; \
	VADDPS Z24, Z0, Z0; \
	VADDPS Z25, Z1, Z1; \
	VADDPS Z26, Z2, Z2; \
	VADDPS Z27, Z3, Z3; \
	VADDPS Z24, Z4, Z4; \
	VADDPS Z25, Z5, Z5; \
	VADDPS Z26, Z6, Z6; \
	VADDPS Z27, Z7, Z7; \
	VADDPS Z24, Z8, Z8; \
	VADDPS Z25, Z9, Z9; \
	VADDPS Z26, Z10, Z10; \
	VADDPS Z27, Z11, Z11; \
	VADDPS Z24, Z12, Z12; \
	VADDPS Z25, Z13, Z13; \
	VADDPS Z26, Z14, Z14; \
	VADDPS Z27, Z15, Z15; \
	VADDPS Z24, Z16, Z16; \
	VADDPS Z25, Z17, Z17; \
	VADDPS Z26, Z18, Z18; \
	VADDPS Z27, Z19, Z19; \
	VADDPS Z24, Z20, Z20; \
	VADDPS Z25, Z21, Z21; \
	VADDPS Z26, Z22, Z22; \
	VADDPS Z27, Z23, Z23

// func gemm6x64BF16(t *tileArgs)
//
// gemm6x32BF16 on four panels (two column groups) at once: 24
// accumulators, so that each sees one VDPBF16PS every 12 cycles at two per
// cycle, past the instruction's latency (6×32 has 12: just enough, and
// measured at 90% of the rate). Each output is the same chain as there.
TEXT ·gemm6x64BF16(SB), NOSPLIT, $0-8
	MOVQ t+0(FP), DI

b64top:
	LOADROWS
	MOVQ  tileArgs_accum(DI), DX
	TESTQ DX, DX
	JZ    b64zero
	LOADACC64
	JMP   b64start

b64zero:
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23

b64start:
	MOVQ tileArgs_pstep(DI), SI
	SHLQ $2, SI
	LEAQ (SI)(SI*1), DI // DI: two panels on; the tileArgs pointer is reloaded after the loop
	ADDQ AX, SI
	KLOOP4

b64loop4:
	CMPQ BX, DX
	JGE  b64tail
	BF16STEP64(0, 0)
	BF16STEP64(64, 4)
	BF16STEP64(128, 8)
	BF16STEP64(192, 12)
	ADDQ $256, AX
	ADDQ $256, SI
	ADDQ $4, BX
	JMP  b64loop4

b64tail:
	CMPQ BX, CX
	JGE  b64bias
	BF16STEP64(0, 0)
	ADDQ $64, AX
	ADDQ $64, SI
	INCQ BX
	JMP  b64tail

b64bias:
	MOVQ  t+0(FP), DI
	MOVQ  tileArgs_bias(DI), SI
	TESTQ SI, SI
	JZ    b64store
	BIAS64

b64store:
	STOREACC64
	NEXTGROUP(b64top, b64done)

b64done:
	VZEROUPPER
	RET
