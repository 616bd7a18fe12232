//go:build !purego

#include "textflag.h"

// The Go assembler lacks these vector instructions (FADD, FADDP, FMUL,
// FSUB, FMIN, FCVTZS, SMIN, MUL, BIC): WORD-encoded below and beside GELU.
#define FADD4S(m, n, d) WORD $(0x4E20D400 | (m<<16) | (n<<5) | d)
#define FADDP4S(m, n, d) WORD $(0x6E20D400 | (m<<16) | (n<<5) | d)
#define FADDP2S(n, d) WORD $(0x7E30D800 | (n<<5) | d)

// func dotNEON(a, b *float32, n int) float32
TEXT ·dotNEON(SB), NOSPLIT, $0-28
	MOVD a+0(FP), R0
	MOVD b+8(FP), R1
	MOVD n+16(FP), R2
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	VEOR V2.B16, V2.B16, V2.B16
	VEOR V3.B16, V3.B16, V3.B16
	CBZ  R2, dotsum

dotloop:
	VLD1.P 64(R0), [V4.S4, V5.S4, V6.S4, V7.S4]
	VLD1.P 64(R1), [V16.S4, V17.S4, V18.S4, V19.S4]
	VFMLA  V16.S4, V4.S4, V0.S4
	VFMLA  V17.S4, V5.S4, V1.S4
	VFMLA  V18.S4, V6.S4, V2.S4
	VFMLA  V19.S4, V7.S4, V3.S4
	SUBS   $16, R2, R2
	BNE    dotloop

dotsum:
	FADD4S(1, 0, 0)
	FADD4S(3, 2, 2)
	FADD4S(2, 0, 0)
	FADDP4S(0, 0, 0)
	FADDP2S(0, 0)
	FMOVS F0, ret+24(FP)
	RET

// func axpyNEON(alpha float32, x, y *float32, n int)
TEXT ·axpyNEON(SB), NOSPLIT, $0-32
	FMOVS alpha+0(FP), F0
	VDUP  V0.S[0], V0.S4
	MOVD  x+8(FP), R0
	MOVD  y+16(FP), R1
	MOVD  n+24(FP), R2
	CBZ   R2, axpydone

axpyloop:
	VLD1.P 64(R0), [V4.S4, V5.S4, V6.S4, V7.S4]
	VLD1   (R1), [V16.S4, V17.S4, V18.S4, V19.S4]
	VFMLA  V4.S4, V0.S4, V16.S4
	VFMLA  V5.S4, V0.S4, V17.S4
	VFMLA  V6.S4, V0.S4, V18.S4
	VFMLA  V7.S4, V0.S4, V19.S4
	VST1.P [V16.S4, V17.S4, V18.S4, V19.S4], 64(R1)
	SUBS   $16, R2, R2
	BNE    axpyloop

axpydone:
	RET

// geluConst: |x| mask, 6 (where erf(x/√2) is 1 in float32), float32(4/3)
// (1 / interval width), 7 (last interval), the byte offsets 0..3 of a lane,
// 0.5, and 4 in every byte (interval → TBL byte index).
DATA geluConst<>+0(SB)/4, $0x7fffffff
DATA geluConst<>+4(SB)/4, $6.0
DATA geluConst<>+8(SB)/4, $0x3faaaaab
DATA geluConst<>+12(SB)/4, $7
DATA geluConst<>+16(SB)/4, $0x03020100
DATA geluConst<>+20(SB)/4, $0.5
DATA geluConst<>+24(SB)/4, $0x04040404
GLOBL geluConst<>(SB), RODATA|NOPTR, $28

#include "erftab.h"

// Vd = Vn op Vm, four float32 (or int32) lanes.
#define FMUL4S(m, n, d) WORD $(0x6E20DC00 | (m<<16) | (n<<5) | d)
#define FSUB4S(m, n, d) WORD $(0x4EA0D400 | (m<<16) | (n<<5) | d)
#define FMIN4S(m, n, d) WORD $(0x4EA0F400 | (m<<16) | (n<<5) | d)
#define FCVTZS4S(n, d) WORD $(0x4EA1B800 | (n<<5) | d)
#define SMIN4S(m, n, d) WORD $(0x4EA06C00 | (m<<16) | (n<<5) | d)
#define MUL4S(m, n, d) WORD $(0x4EA09C00 | (m<<16) | (n<<5) | d)
#define BIC16B(m, n, d) WORD $(0x4E601C00 | (m<<16) | (n<<5) | d)

// func geluNEON(dst, src *float32, n int)
//
// The steps of gelu1, four lanes at a time. V0..V17 hold erfTab (centre,
// then coefficients 0..7, two registers each), V18..V24 the constants, V25
// x, V26 a, V27 the table byte indices, V28 u, V29/V30 the Horner sums.
TEXT ·geluNEON(SB), NOSPLIT, $0-24
	MOVD dst+0(FP), R0
	MOVD src+8(FP), R1
	MOVD n+16(FP), R2
	MOVD $erfTab<>(SB), R3
	VLD1.P 64(R3), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R3), [V4.S4, V5.S4, V6.S4, V7.S4]
	VLD1.P 64(R3), [V8.S4, V9.S4, V10.S4, V11.S4]
	VLD1.P 64(R3), [V12.S4, V13.S4, V14.S4, V15.S4]
	VLD1   (R3), [V16.S4, V17.S4]
	MOVD    $geluConst<>(SB), R4
	VLD1R.P 4(R4), [V18.S4] // |x| mask
	VLD1R.P 4(R4), [V19.S4] // 6
	VLD1R.P 4(R4), [V20.S4] // float32(4/3)
	VLD1R.P 4(R4), [V21.S4] // last interval
	VLD1R.P 4(R4), [V22.S4] // byte offsets within a float
	VLD1R.P 4(R4), [V23.S4] // 0.5
	VLD1R   (R4), [V24.S4]  // 0x04040404
	CBZ  R2, geludone

geluloop:
	VLD1.P 16(R1), [V25.S4]
	VAND   V18.B16, V25.B16, V26.B16 // a = |x|
	FMIN4S(19, 26, 26)               // a = min(a, 6)
	FMUL4S(20, 26, 27)
	FCVTZS4S(27, 27)
	SMIN4S(21, 27, 27)               // i = min(trunc(a·4/3), 7)
	MUL4S(24, 27, 27)                // 4i in each byte of the lane
	VADD   V22.S4, V27.S4, V27.S4    // bytes 4i..4i+3
	VTBL   V27.B16, [V0.B16, V1.B16], V28.B16
	FSUB4S(28, 26, 28)               // u = a - centre
	VTBL   V27.B16, [V16.B16, V17.B16], V29.B16
	VTBL   V27.B16, [V14.B16, V15.B16], V30.B16
	VFMLA  V28.S4, V29.S4, V30.S4    // p = p·u + c6
	VTBL   V27.B16, [V12.B16, V13.B16], V29.B16
	VFMLA  V28.S4, V30.S4, V29.S4
	VTBL   V27.B16, [V10.B16, V11.B16], V30.B16
	VFMLA  V28.S4, V29.S4, V30.S4
	VTBL   V27.B16, [V8.B16, V9.B16], V29.B16
	VFMLA  V28.S4, V30.S4, V29.S4
	VTBL   V27.B16, [V6.B16, V7.B16], V30.B16
	VFMLA  V28.S4, V29.S4, V30.S4
	VTBL   V27.B16, [V4.B16, V5.B16], V29.B16
	VFMLA  V28.S4, V30.S4, V29.S4
	VTBL   V27.B16, [V2.B16, V3.B16], V30.B16
	VFMLA  V28.S4, V29.S4, V30.S4    // p = p·u + c0
	BIC16B(18, 25, 31)               // sign of x
	VEOR   V31.B16, V30.B16, V30.B16 // erf with the sign of x
	FMUL4S(23, 25, 31)               // h = x/2
	VMOV   V31.B16, V29.B16
	VFMLA  V30.S4, V31.S4, V29.S4    // h + h·erf
	VST1.P [V29.S4], 16(R0)
	SUBS   $4, R2, R2
	BNE    geluloop

geludone:
	RET

// The LayerNorm passes' vector parts (see layerNormPasses): the float64 sums
// s[i%16], the fused squares q[i%32] and the affine step, each lane fed what
// layerNormGeneric feeds it, in the same order.
#define FADD2D(m, n, d) WORD $(0x4E60D400 | (m<<16) | (n<<5) | d)
#define FCVTL2D(n, d) WORD $(0x0E617800 | (n<<5) | d)
#define FCVTL22D(n, d) WORD $(0x4E617800 | (n<<5) | d)

// func lnSumNEON(out, x, res *float32, n int, s *[16]float64)
// out[i] = x[i] + res[i] (res may be nil); s[i%16] += float64(out[i]); n is
// a multiple of 16.
TEXT ·lnSumNEON(SB), NOSPLIT, $0-40
	MOVD out+0(FP), R0
	MOVD x+8(FP), R1
	MOVD res+16(FP), R2
	MOVD n+24(FP), R3
	MOVD s+32(FP), R4
	ADD  $64, R4, R5
	VLD1 (R4), [V16.D2, V17.D2, V18.D2, V19.D2]
	VLD1 (R5), [V20.D2, V21.D2, V22.D2, V23.D2]
	CBZ  R3, lnsdone

lnsloop:
	VLD1.P 64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	CBZ    R2, lnsstore
	VLD1.P 64(R2), [V4.S4, V5.S4, V6.S4, V7.S4]
	FADD4S(4, 0, 0)
	FADD4S(5, 1, 1)
	FADD4S(6, 2, 2)
	FADD4S(7, 3, 3)

lnsstore:
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	FCVTL2D(0, 8)
	FCVTL22D(0, 9)
	FCVTL2D(1, 10)
	FCVTL22D(1, 11)
	FCVTL2D(2, 12)
	FCVTL22D(2, 13)
	FCVTL2D(3, 14)
	FCVTL22D(3, 15)
	FADD2D(8, 16, 16)
	FADD2D(9, 17, 17)
	FADD2D(10, 18, 18)
	FADD2D(11, 19, 19)
	FADD2D(12, 20, 20)
	FADD2D(13, 21, 21)
	FADD2D(14, 22, 22)
	FADD2D(15, 23, 23)
	SUBS   $16, R3, R3
	BNE    lnsloop

lnsdone:
	VST1 [V16.D2, V17.D2, V18.D2, V19.D2], (R4)
	VST1 [V20.D2, V21.D2, V22.D2, V23.D2], (R5)
	RET

// func lnSqNEON(out *float32, mean float32, n int, q *[32]float32)
// out[i] -= mean; q[i%32] = fma(out[i], out[i], q[i%32]); n is a multiple
// of 32.
TEXT ·lnSqNEON(SB), NOSPLIT, $0-32
	MOVD  out+0(FP), R0
	FMOVS mean+8(FP), F0
	VDUP  V0.S[0], V0.S4
	MOVD  n+16(FP), R3
	MOVD  q+24(FP), R4
	ADD   $64, R4, R5
	VLD1  (R4), [V16.S4, V17.S4, V18.S4, V19.S4]
	VLD1  (R5), [V20.S4, V21.S4, V22.S4, V23.S4]
	CBZ   R3, lnqdone

lnqloop:
	ADD    $64, R0, R6
	VLD1   (R0), [V1.S4, V2.S4, V3.S4, V4.S4]
	VLD1   (R6), [V5.S4, V6.S4, V7.S4, V8.S4]
	FSUB4S(0, 1, 1)
	FSUB4S(0, 2, 2)
	FSUB4S(0, 3, 3)
	FSUB4S(0, 4, 4)
	FSUB4S(0, 5, 5)
	FSUB4S(0, 6, 6)
	FSUB4S(0, 7, 7)
	FSUB4S(0, 8, 8)
	VST1.P [V1.S4, V2.S4, V3.S4, V4.S4], 64(R0)
	VST1.P [V5.S4, V6.S4, V7.S4, V8.S4], 64(R0)
	VFMLA  V1.S4, V1.S4, V16.S4
	VFMLA  V2.S4, V2.S4, V17.S4
	VFMLA  V3.S4, V3.S4, V18.S4
	VFMLA  V4.S4, V4.S4, V19.S4
	VFMLA  V5.S4, V5.S4, V20.S4
	VFMLA  V6.S4, V6.S4, V21.S4
	VFMLA  V7.S4, V7.S4, V22.S4
	VFMLA  V8.S4, V8.S4, V23.S4
	SUBS   $32, R3, R3
	BNE    lnqloop

lnqdone:
	VST1 [V16.S4, V17.S4, V18.S4, V19.S4], (R4)
	VST1 [V20.S4, V21.S4, V22.S4, V23.S4], (R5)
	RET

// func lnAffNEON(out, gamma, beta *float32, inv float32, n int)
// out[i] = fma(out[i]·inv, gamma[i], beta[i]); n is a multiple of 16.
TEXT ·lnAffNEON(SB), NOSPLIT, $0-40
	MOVD  out+0(FP), R0
	MOVD  gamma+8(FP), R1
	MOVD  beta+16(FP), R2
	FMOVS inv+24(FP), F0
	VDUP  V0.S[0], V0.S4
	MOVD  n+32(FP), R3
	CBZ   R3, lnadone

lnaloop:
	VLD1   (R0), [V1.S4, V2.S4, V3.S4, V4.S4]
	VLD1.P 64(R1), [V5.S4, V6.S4, V7.S4, V8.S4]
	VLD1.P 64(R2), [V16.S4, V17.S4, V18.S4, V19.S4]
	FMUL4S(0, 1, 1)
	FMUL4S(0, 2, 2)
	FMUL4S(0, 3, 3)
	FMUL4S(0, 4, 4)
	VFMLA  V5.S4, V1.S4, V16.S4
	VFMLA  V6.S4, V2.S4, V17.S4
	VFMLA  V7.S4, V3.S4, V18.S4
	VFMLA  V8.S4, V4.S4, V19.S4
	VST1.P [V16.S4, V17.S4, V18.S4, V19.S4], 64(R0)
	SUBS   $16, R3, R3
	BNE    lnaloop

lnadone:
	RET
