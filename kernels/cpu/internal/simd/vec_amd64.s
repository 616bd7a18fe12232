//go:build !purego

#include "textflag.h"

// geluConst: |x| mask, 6 (where erf(x/√2) is 1 in float32), float32(4/3)
// (1 / interval width), 7 (last interval), 0.5, sign mask.
DATA geluConst<>+0(SB)/4, $0x7fffffff
DATA geluConst<>+4(SB)/4, $6.0
DATA geluConst<>+8(SB)/4, $0x3faaaaab
DATA geluConst<>+12(SB)/4, $7
DATA geluConst<>+16(SB)/4, $0.5
DATA geluConst<>+20(SB)/4, $0x80000000
GLOBL geluConst<>(SB), RODATA|NOPTR, $24

#include "erftab.h"

// GELU8 sets Y4 = gelu1(Y0) lane by lane: a = min(|x|, 6), interval
// i = min(trunc(a·4/3), 7), u = a - centre, Horner with the interval's
// coefficients (VPERMPS picks them), erf given the sign of x, then
// h·erf + h with h = x/2. It uses Y1-Y7 and the constants in Y8-Y13.
#define GELU8 \
	VANDPS     Y8, Y0, Y1; \
	VMINPS     Y9, Y1, Y1; \
	VMULPS     Y10, Y1, Y2; \
	VCVTTPS2DQ Y2, Y2; \
	VPMINSD    Y11, Y2, Y2; \
	VPERMPS    erfTab<>+0(SB), Y2, Y3; \
	VSUBPS     Y3, Y1, Y3; \
	VPERMPS    erfTab<>+256(SB), Y2, Y4; \
	VPERMPS    erfTab<>+224(SB), Y2, Y5; \
	VFMADD213PS Y5, Y3, Y4; \
	VPERMPS    erfTab<>+192(SB), Y2, Y5; \
	VFMADD213PS Y5, Y3, Y4; \
	VPERMPS    erfTab<>+160(SB), Y2, Y5; \
	VFMADD213PS Y5, Y3, Y4; \
	VPERMPS    erfTab<>+128(SB), Y2, Y5; \
	VFMADD213PS Y5, Y3, Y4; \
	VPERMPS    erfTab<>+96(SB), Y2, Y5; \
	VFMADD213PS Y5, Y3, Y4; \
	VPERMPS    erfTab<>+64(SB), Y2, Y5; \
	VFMADD213PS Y5, Y3, Y4; \
	VPERMPS    erfTab<>+32(SB), Y2, Y5; \
	VFMADD213PS Y5, Y3, Y4; \
	VANDPS     Y13, Y0, Y6; \
	VXORPS     Y6, Y4, Y4; \
	VMULPS     Y12, Y0, Y7; \
	VFMADD213PS Y7, Y7, Y4

// GELUCONST loads GELU8's constants into Y8-Y13.
#define GELUCONST \
	VBROADCASTSS geluConst<>+0(SB), Y8; \
	VBROADCASTSS geluConst<>+4(SB), Y9; \
	VBROADCASTSS geluConst<>+8(SB), Y10; \
	VPBROADCASTD geluConst<>+12(SB), Y11; \
	VBROADCASTSS geluConst<>+16(SB), Y12; \
	VBROADCASTSS geluConst<>+20(SB), Y13

// func geluAVX2(dst, src *float32, n int)
TEXT ·geluAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	GELUCONST
	XORQ BX, BX

geluloop:
	CMPQ BX, CX
	JGE  geludone
	VMOVUPS    (SI)(BX*4), Y0
	GELU8
	VMOVUPS    Y4, (DI)(BX*4)
	ADDQ       $8, BX
	JMP        geluloop

geludone:
	VZEROUPPER
	RET

// func geluTileAVX2(out *float32, ldo, rows, cols int)
// out[r·ldo + c] = gelu1(out[r·ldo + c]) for r < rows, c < cols; cols is a
// multiple of 8.
TEXT ·geluTileAVX2(SB), NOSPLIT, $0-32
	MOVQ out+0(FP), DI
	MOVQ ldo+8(FP), R11
	SHLQ $2, R11
	MOVQ rows+16(FP), R8
	MOVQ cols+24(FP), CX
	GELUCONST

gtrow:
	TESTQ R8, R8
	JZ    gtdone
	XORQ  BX, BX

gtloop:
	CMPQ    BX, CX
	JGE     gtnext
	VMOVUPS (DI)(BX*4), Y0
	GELU8
	VMOVUPS Y4, (DI)(BX*4)
	ADDQ    $8, BX
	JMP     gtloop

gtnext:
	ADDQ R11, DI
	DECQ R8
	JMP  gtrow

gtdone:
	VZEROUPPER
	RET

// func dotAVX2(a, b *float32, n int) float32
TEXT ·dotAVX2(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ   BX, BX
	MOVQ   CX, DX
	ANDQ   $-32, DX

dotloop32:
	CMPQ BX, DX
	JGE  dotloop8
	VMOVUPS (SI)(BX*4), Y4
	VMOVUPS 32(SI)(BX*4), Y5
	VMOVUPS 64(SI)(BX*4), Y6
	VMOVUPS 96(SI)(BX*4), Y7
	VFMADD231PS (DI)(BX*4), Y4, Y0
	VFMADD231PS 32(DI)(BX*4), Y5, Y1
	VFMADD231PS 64(DI)(BX*4), Y6, Y2
	VFMADD231PS 96(DI)(BX*4), Y7, Y3
	ADDQ $32, BX
	JMP  dotloop32

dotloop8:
	CMPQ BX, CX
	JGE  dotsum
	VMOVUPS (SI)(BX*4), Y4
	VFMADD231PS (DI)(BX*4), Y4, Y0
	ADDQ $8, BX
	JMP  dotloop8

dotsum:
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VMOVHLPS     X0, X1, X1
	VADDPS       X1, X0, X0
	VMOVSHDUP    X0, X1
	VADDSS       X1, X0, X0
	MOVSS        X0, ret+24(FP)
	VZEROUPPER
	RET

// func axpyAVX2(alpha float32, x, y *float32, n int)
TEXT ·axpyAVX2(SB), NOSPLIT, $0-32
	VBROADCASTSS alpha+0(FP), Y0
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DI
	MOVQ n+24(FP), CX
	XORQ BX, BX
	MOVQ CX, DX
	ANDQ $-32, DX

axpyloop32:
	CMPQ BX, DX
	JGE  axpyloop8
	VMOVUPS (DI)(BX*4), Y1
	VMOVUPS 32(DI)(BX*4), Y2
	VMOVUPS 64(DI)(BX*4), Y3
	VMOVUPS 96(DI)(BX*4), Y4
	VFMADD231PS (SI)(BX*4), Y0, Y1
	VFMADD231PS 32(SI)(BX*4), Y0, Y2
	VFMADD231PS 64(SI)(BX*4), Y0, Y3
	VFMADD231PS 96(SI)(BX*4), Y0, Y4
	VMOVUPS Y1, (DI)(BX*4)
	VMOVUPS Y2, 32(DI)(BX*4)
	VMOVUPS Y3, 64(DI)(BX*4)
	VMOVUPS Y4, 96(DI)(BX*4)
	ADDQ $32, BX
	JMP  axpyloop32

axpyloop8:
	CMPQ BX, CX
	JGE  axpydone
	VMOVUPS (DI)(BX*4), Y1
	VFMADD231PS (SI)(BX*4), Y0, Y1
	VMOVUPS Y1, (DI)(BX*4)
	ADDQ $8, BX
	JMP  axpyloop8

axpydone:
	VZEROUPPER
	RET

// expConst: 88, -87, log2(e), -ln2 high part, -ln2 low part, the polynomial
// (highest degree first), 1, and the exponent bias 127 (see exp.go).
DATA expConst<>+0(SB)/4, $0x42b00000
DATA expConst<>+4(SB)/4, $0xc2ae0000
DATA expConst<>+8(SB)/4, $0x3fb8aa3b
DATA expConst<>+12(SB)/4, $0xbf318000
DATA expConst<>+16(SB)/4, $0x395e8083
DATA expConst<>+20(SB)/4, $0x39506967
DATA expConst<>+24(SB)/4, $0x3ab743ce
DATA expConst<>+28(SB)/4, $0x3c088908
DATA expConst<>+32(SB)/4, $0x3d2aa9c1
DATA expConst<>+36(SB)/4, $0x3e2aaaaa
DATA expConst<>+40(SB)/4, $0x3f000000
DATA expConst<>+44(SB)/4, $0x3f800000
DATA expConst<>+48(SB)/4, $127
GLOBL expConst<>(SB), RODATA|NOPTR, $52

// func expLanesAVX2(x *float32, n int, scale, neg float32, lanes *[8]float32)
TEXT ·expLanesAVX2(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ lanes+24(FP), DI
	VBROADCASTSS scale+16(FP), Y8
	VBROADCASTSS neg+20(FP), Y9
	VBROADCASTSS expConst<>+0(SB), Y10
	VBROADCASTSS expConst<>+4(SB), Y11
	VBROADCASTSS expConst<>+8(SB), Y12
	VBROADCASTSS expConst<>+12(SB), Y13
	VBROADCASTSS expConst<>+16(SB), Y14
	VBROADCASTSS expConst<>+44(SB), Y15
	VPBROADCASTD expConst<>+48(SB), Y2
	VMOVUPS      (DI), Y1
	XORQ         BX, BX

exploop:
	CMPQ BX, CX
	JGE  expdone
	VMOVUPS      (SI)(BX*4), Y0
	VFMADD213PS  Y9, Y8, Y0        // t = scale·x + neg
	VMINPS       Y10, Y0, Y0       // t < 88 ? t : 88
	VMAXPS       Y11, Y0, Y0       // t > -87 ? t : -87
	VMULPS       Y12, Y0, Y3
	VROUNDPS     $0, Y3, Y3        // n = round(t·log2 e), ties to even
	VMOVAPS      Y0, Y4
	VFMADD231PS  Y13, Y3, Y4       // r = n·(-ln2 high) + t
	VFMADD231PS  Y14, Y3, Y4       // r = n·(-ln2 low) + r
	VBROADCASTSS expConst<>+20(SB), Y5
	VBROADCASTSS expConst<>+24(SB), Y7
	VFMADD213PS  Y7, Y4, Y5        // p = p·r + c
	VBROADCASTSS expConst<>+28(SB), Y7
	VFMADD213PS  Y7, Y4, Y5
	VBROADCASTSS expConst<>+32(SB), Y7
	VFMADD213PS  Y7, Y4, Y5
	VBROADCASTSS expConst<>+36(SB), Y7
	VFMADD213PS  Y7, Y4, Y5
	VBROADCASTSS expConst<>+40(SB), Y7
	VFMADD213PS  Y7, Y4, Y5
	VFMADD213PS  Y15, Y4, Y5       // p·r + 1
	VFMADD213PS  Y15, Y4, Y5       // p·r + 1
	VCVTPS2DQ    Y3, Y6
	VPADDD       Y2, Y6, Y6
	VPSLLD       $23, Y6, Y6       // 2^n
	VMULPS       Y6, Y5, Y5
	VMOVUPS      Y5, (SI)(BX*4)
	VADDPS       Y5, Y1, Y1
	ADDQ         $8, BX
	JMP          exploop

expdone:
	VMOVUPS Y1, (DI)
	VZEROUPPER
	RET

// func maxLanesAVX2(x *float32, n int, lanes *[8]float32)
TEXT ·maxLanesAVX2(SB), NOSPLIT, $0-24
	MOVQ    x+0(FP), SI
	MOVQ    n+8(FP), CX
	MOVQ    lanes+16(FP), DI
	VMOVUPS (DI), Y0
	XORQ    BX, BX

maxloop:
	CMPQ    BX, CX
	JGE     maxdone
	VMOVUPS (SI)(BX*4), Y1
	VMAXPS  Y0, Y1, Y0             // x > lane ? x : lane
	ADDQ    $8, BX
	JMP     maxloop

maxdone:
	VMOVUPS Y0, (DI)
	VZEROUPPER
	RET

// tailMask: loading 8 dwords at tailMask+4·(8−t) gives a mask of the first t
// lanes (VMASKMOVPS reads and writes only those; VBLENDVPS picks by them).
DATA tailMask<>+0(SB)/4, $-1
DATA tailMask<>+4(SB)/4, $-1
DATA tailMask<>+8(SB)/4, $-1
DATA tailMask<>+12(SB)/4, $-1
DATA tailMask<>+16(SB)/4, $-1
DATA tailMask<>+20(SB)/4, $-1
DATA tailMask<>+24(SB)/4, $-1
DATA tailMask<>+28(SB)/4, $-1
DATA tailMask<>+32(SB)/4, $0
DATA tailMask<>+36(SB)/4, $0
DATA tailMask<>+40(SB)/4, $0
DATA tailMask<>+44(SB)/4, $0
DATA tailMask<>+48(SB)/4, $0
DATA tailMask<>+52(SB)/4, $0
DATA tailMask<>+56(SB)/4, $0
DATA tailMask<>+60(SB)/4, $0
GLOBL tailMask<>(SB), RODATA|NOPTR, $64

// rowConst: -Inf, the float32 sign bit, 1.0 (float32), 1.0 (float64).
DATA rowConst<>+0(SB)/4, $0xff800000
DATA rowConst<>+4(SB)/4, $0x80000000
DATA rowConst<>+8(SB)/4, $0x3f800000
DATA rowConst<>+16(SB)/8, $1.0
GLOBL rowConst<>(SB), RODATA|NOPTR, $24

// EXP8 replaces Y0 = t (already scale·x + neg) by exp(t), step for step as
// expLanesAVX2; it uses Y3-Y7 and the constants in Y2, Y10-Y15.
#define EXP8 \
	VMINPS       Y10, Y0, Y0; \
	VMAXPS       Y11, Y0, Y0; \
	VMULPS       Y12, Y0, Y3; \
	VROUNDPS     $0, Y3, Y3; \
	VMOVAPS      Y0, Y4; \
	VFMADD231PS  Y13, Y3, Y4; \
	VFMADD231PS  Y14, Y3, Y4; \
	VBROADCASTSS expConst<>+20(SB), Y5; \
	VBROADCASTSS expConst<>+24(SB), Y7; \
	VFMADD213PS  Y7, Y4, Y5; \
	VBROADCASTSS expConst<>+28(SB), Y7; \
	VFMADD213PS  Y7, Y4, Y5; \
	VBROADCASTSS expConst<>+32(SB), Y7; \
	VFMADD213PS  Y7, Y4, Y5; \
	VBROADCASTSS expConst<>+36(SB), Y7; \
	VFMADD213PS  Y7, Y4, Y5; \
	VBROADCASTSS expConst<>+40(SB), Y7; \
	VFMADD213PS  Y7, Y4, Y5; \
	VFMADD213PS  Y15, Y4, Y5; \
	VFMADD213PS  Y15, Y4, Y5; \
	VCVTPS2DQ    Y3, Y6; \
	VPADDD       Y2, Y6, Y6; \
	VPSLLD       $23, Y6, Y6; \
	VMULPS       Y6, Y5, Y0

// MAXTAIL8 folds the row's last l mod 8 scores (R9 > 0 of them, at
// (SI)(BX*4), mask at AX+4·R10) into the 8 lane maxima in Y1; lanes past l
// read -Inf.
#define MAXTAIL8 \
	VMOVUPS      (AX)(R10*4), Y3; \
	VMASKMOVPS   (SI)(BX*4), Y3, Y0; \
	VBROADCASTSS rowConst<>+0(SB), Y4; \
	VBLENDVPS    Y3, Y0, Y4, Y0; \
	VMAXPS       Y1, Y0, Y1

// NEGSCALEDMAX sets X3 = -(scale·max) from the lane maxima in Y1 (maxTree8;
// the sign flipped, as Go's -m), scale in X8.
#define NEGSCALEDMAX \
	VEXTRACTF128 $1, Y1, X3; \
	VMAXPS       X3, X1, X3; \
	VMOVHLPS     X3, X3, X4; \
	VMAXPS       X4, X3, X3; \
	VMOVSHDUP    X3, X4; \
	VMAXSS       X4, X3, X3; \
	VMULSS       X8, X3, X3; \
	VMOVSS       rowConst<>+4(SB), X4; \
	VXORPS       X4, X3, X3

// EXPTAIL8 replaces the row's last l mod 8 scores by their exponentials
// (EXP8 of scale·x + neg) and adds them to the lane sums in Y1; lanes past l
// add +0.
#define EXPTAIL8 \
	VMOVUPS     (AX)(R10*4), Y3; \
	VMASKMOVPS  (SI)(BX*4), Y3, Y0; \
	VFMADD213PS Y9, Y8, Y0; \
	EXP8; \
	VMOVUPS     (AX)(R10*4), Y3; \
	VMASKMOVPS  Y0, Y3, (SI)(BX*4); \
	VANDPS      Y3, Y0, Y0; \
	VADDPS      Y0, Y1, Y1

// LANESUM8 sets X3 = laneSum(Y1): ((l0+l1)+(l2+l3)) + ((l4+l5)+(l6+l7)).
#define LANESUM8 \
	VEXTRACTF128 $1, Y1, X3; \
	VHADDPS      X3, X1, X3; \
	VHADDPS      X3, X3, X3; \
	VMOVSHDUP    X3, X4; \
	VADDSS       X4, X3, X3

// LNMEAN sets X4 = float32(tree16 / n) from the four pairwise sums of
// tree16 in Y4 (float64), n in CX.
#define LNMEAN \
	VEXTRACTF128 $1, Y4, X5; \
	VADDPD       X5, X4, X4; \
	VUNPCKHPD    X4, X4, X5; \
	VADDSD       X5, X4, X4; \
	VCVTSI2SDQ   CX, X5, X5; \
	VDIVSD       X5, X4, X4; \
	VCVTSD2SS    X4, X4, X4

// LNINV sets X0 = float32(1 / sqrt(float64(tree32)/n + eps)) from the eight
// sums of tree32's first step in Y0 (float32), n in CX, eps in the frame.
#define LNINV \
	VEXTRACTF128 $1, Y0, X1; \
	VADDPS       X1, X0, X0; \
	VMOVHLPS     X0, X1, X1; \
	VADDPS       X1, X0, X0; \
	VMOVSHDUP    X0, X1; \
	VADDSS       X1, X0, X0; \
	VCVTSS2SD    X0, X0, X0; \
	VCVTSI2SDQ   CX, X1, X1; \
	VDIVSD       X1, X0, X0; \
	VMOVSS       eps+48(FP), X1; \
	VCVTSS2SD    X1, X1, X1; \
	VADDSD       X1, X0, X0; \
	VSQRTSD      X0, X0, X0; \
	VMOVSD       rowConst<>+16(SB), X1; \
	VDIVSD       X0, X1, X0; \
	VCVTSD2SS    X0, X0, X0

// LNAFFINE stores out = fma(d·inv, gamma, beta) for the vector of d at
// (DI)(BX*4), inv in s, gamma and beta at R12, R13; a and b are temporaries.
#define LNAFFINE(a, b, s) \
	VMULPS      (DI)(BX*4), s, a; \
	VMOVUPS     (R12)(BX*4), b; \
	VFMADD213PS (R13)(BX*4), b, a; \
	VMOVUPS     a, (DI)(BX*4)

// func softmaxRowsAVX2(s *float32, rows, l int, scale float32, sums *float32)
//
// SI row start, CX l, DX l &^ 7, R9 tail lanes (l mod 8), AX+4·R10 the tail
// mask, R8 rows left, DI next sum; Y8 scale, Y9 neg = -(scale·max), Y1 lanes.
TEXT ·softmaxRowsAVX2(SB), NOSPLIT, $0-40
	MOVQ         s+0(FP), SI
	MOVQ         rows+8(FP), R8
	MOVQ         l+16(FP), CX
	MOVQ         sums+32(FP), DI
	VBROADCASTSS scale+24(FP), Y8
	VBROADCASTSS expConst<>+0(SB), Y10
	VBROADCASTSS expConst<>+4(SB), Y11
	VBROADCASTSS expConst<>+8(SB), Y12
	VBROADCASTSS expConst<>+12(SB), Y13
	VBROADCASTSS expConst<>+16(SB), Y14
	VBROADCASTSS expConst<>+44(SB), Y15
	VPBROADCASTD expConst<>+48(SB), Y2
	MOVQ         CX, DX
	ANDQ         $-8, DX
	MOVQ         CX, R9
	SUBQ         DX, R9
	LEAQ         tailMask<>(SB), AX
	MOVQ         $8, R10
	SUBQ         R9, R10

smrow:
	TESTQ        R8, R8
	JZ           smdone
	VBROADCASTSS rowConst<>+0(SB), Y1
	XORQ         BX, BX

smmax:
	CMPQ    BX, DX
	JGE     smmaxtail
	VMOVUPS (SI)(BX*4), Y0
	VMAXPS  Y1, Y0, Y1             // x > lane ? x : lane
	ADDQ    $8, BX
	JMP     smmax

smmaxtail:
	TESTQ        R9, R9
	JZ           smmaxred
	MAXTAIL8

smmaxred:
	NEGSCALEDMAX
	VBROADCASTSS X3, Y9
	VXORPS       Y1, Y1, Y1
	XORQ         BX, BX

smexp:
	CMPQ        BX, DX
	JGE         smexptail
	VMOVUPS     (SI)(BX*4), Y0
	VFMADD213PS Y9, Y8, Y0         // t = scale·x + neg
	EXP8
	VMOVUPS     Y0, (SI)(BX*4)
	VADDPS      Y0, Y1, Y1
	ADDQ        $8, BX
	JMP         smexp

smexptail:
	TESTQ       R9, R9
	JZ          smsum
	EXPTAIL8

smsum:
	LANESUM8
	VMOVSS       X3, (DI)
	ADDQ         $4, DI
	LEAQ         (SI)(CX*4), SI
	DECQ         R8
	JMP          smrow

smdone:
	VZEROUPPER
	RET

// func scaleRowsAVX2(o *float32, ldo, rows, n int, sums *float32)
// n is a multiple of 8.
TEXT ·scaleRowsAVX2(SB), NOSPLIT, $0-40
	MOVQ o+0(FP), SI
	MOVQ ldo+8(FP), R11
	SHLQ $2, R11
	MOVQ rows+16(FP), R8
	MOVQ n+24(FP), CX
	MOVQ sums+32(FP), DI

srrow:
	TESTQ        R8, R8
	JZ           srdone
	VMOVSS       rowConst<>+8(SB), X0
	VDIVSS       (DI), X0, X0      // 1/sum
	VBROADCASTSS X0, Y0
	XORQ         BX, BX

srloop:
	CMPQ    BX, CX
	JGE     srnext
	VMULPS  (SI)(BX*4), Y0, Y1
	VMOVUPS Y1, (SI)(BX*4)
	ADDQ    $8, BX
	JMP     srloop

srnext:
	ADDQ R11, SI
	ADDQ $4, DI
	DECQ R8
	JMP  srrow

srdone:
	VZEROUPPER
	RET

// func layerNormAVX2(out, x, res, gamma, beta *float32, n int, eps float32)
// n is a multiple of 8; res may be nil. See layerNormGeneric.
TEXT ·layerNormAVX2(SB), NOSPLIT, $0-52
	MOVQ   out+0(FP), DI
	MOVQ   x+8(FP), SI
	MOVQ   res+16(FP), R11
	MOVQ   gamma+24(FP), R12
	MOVQ   beta+32(FP), R13
	MOVQ   n+40(FP), CX
	VXORPD Y4, Y4, Y4              // s[0:4]
	VXORPD Y5, Y5, Y5              // s[4:8]
	VXORPD Y6, Y6, Y6              // s[8:12]
	VXORPD Y7, Y7, Y7              // s[12:16]
	XORQ   BX, BX

	// y = x + res into out; s[i%16] += float64(y).
lnsum:
	CMPQ    BX, CX
	JGE     lnmean
	VMOVUPS (SI)(BX*4), Y0
	TESTQ   R11, R11
	JZ      lnsum0
	VADDPS  (R11)(BX*4), Y0, Y0

lnsum0:
	VMOVUPS      Y0, (DI)(BX*4)
	VCVTPS2PD    X0, Y2
	VADDPD       Y2, Y4, Y4
	VEXTRACTF128 $1, Y0, X0
	VCVTPS2PD    X0, Y2
	VADDPD       Y2, Y5, Y5
	ADDQ         $8, BX
	CMPQ         BX, CX
	JGE          lnmean
	VMOVUPS      (SI)(BX*4), Y1
	TESTQ        R11, R11
	JZ           lnsum1
	VADDPS       (R11)(BX*4), Y1, Y1

lnsum1:
	VMOVUPS      Y1, (DI)(BX*4)
	VCVTPS2PD    X1, Y2
	VADDPD       Y2, Y6, Y6
	VEXTRACTF128 $1, Y1, X1
	VCVTPS2PD    X1, Y2
	VADDPD       Y2, Y7, Y7
	ADDQ         $8, BX
	JMP          lnsum

lnmean:
	// tree16, mean = float32(sum / n).
	VADDPD       Y5, Y4, Y4
	VADDPD       Y7, Y6, Y6
	VADDPD       Y6, Y4, Y4
	LNMEAN
	VBROADCASTSS X4, Y8

	// d = y - mean into out; q[i%32] = fma(d, d, q[i%32]).
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ   BX, BX
	MOVQ   CX, DX
	ANDQ   $-32, DX

lnsq32:
	CMPQ        BX, DX
	JGE         lnsqtail
	VMOVUPS     (DI)(BX*4), Y4
	VMOVUPS     32(DI)(BX*4), Y5
	VMOVUPS     64(DI)(BX*4), Y6
	VMOVUPS     96(DI)(BX*4), Y7
	VSUBPS      Y8, Y4, Y4
	VSUBPS      Y8, Y5, Y5
	VSUBPS      Y8, Y6, Y6
	VSUBPS      Y8, Y7, Y7
	VMOVUPS     Y4, (DI)(BX*4)
	VMOVUPS     Y5, 32(DI)(BX*4)
	VMOVUPS     Y6, 64(DI)(BX*4)
	VMOVUPS     Y7, 96(DI)(BX*4)
	VFMADD231PS Y4, Y4, Y0
	VFMADD231PS Y5, Y5, Y1
	VFMADD231PS Y6, Y6, Y2
	VFMADD231PS Y7, Y7, Y3
	ADDQ        $32, BX
	JMP         lnsq32

lnsqtail:
	CMPQ        BX, CX
	JGE         lnvar
	VMOVUPS     (DI)(BX*4), Y4
	VSUBPS      Y8, Y4, Y4
	VMOVUPS     Y4, (DI)(BX*4)
	VFMADD231PS Y4, Y4, Y0
	ADDQ        $8, BX
	CMPQ        BX, CX
	JGE         lnvar
	VMOVUPS     (DI)(BX*4), Y4
	VSUBPS      Y8, Y4, Y4
	VMOVUPS     Y4, (DI)(BX*4)
	VFMADD231PS Y4, Y4, Y1
	ADDQ        $8, BX
	CMPQ        BX, CX
	JGE         lnvar
	VMOVUPS     (DI)(BX*4), Y4
	VSUBPS      Y8, Y4, Y4
	VMOVUPS     Y4, (DI)(BX*4)
	VFMADD231PS Y4, Y4, Y2

lnvar:
	// tree32, inv = float32(1 / sqrt(float64(q)/n + eps)).
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	LNINV
	VBROADCASTSS X0, Y8
	XORQ         BX, BX

	// out = fma(d·inv, gamma, beta).
lnaff:
	CMPQ        BX, CX
	JGE         lndone
	LNAFFINE(Y0, Y1, Y8)
	ADDQ        $8, BX
	JMP         lnaff

lndone:
	VZEROUPPER
	RET

// The 512-bit helpers below are the AVX2 ones above with twice the lanes
// per instruction, and the same bits: elementwise steps are the same
// instructions; every sum keeps the AVX2 lanes and their order (a 16-float
// chunk adds its low half, then its high half, to the 8-lane sums; LayerNorm's
// 16 and 32 partial sums are the same lanes in two ZMM registers). They use
// AVX512F only.

// GELU16 is GELU8 on Z0 (result in Z4), with the constants in Z8-Z13 and the
// erfTab rows in Z16-Z24 (GELUCONST16).
#define GELU16 \
	VPANDD      Z8, Z0, Z1; \
	VMINPS      Z9, Z1, Z1; \
	VMULPS      Z10, Z1, Z2; \
	VCVTTPS2DQ  Z2, Z2; \
	VPMINSD     Z11, Z2, Z2; \
	VPERMPS     Z16, Z2, Z3; \
	VSUBPS      Z3, Z1, Z3; \
	VPERMPS     Z24, Z2, Z4; \
	VPERMPS     Z23, Z2, Z5; \
	VFMADD213PS Z5, Z3, Z4; \
	VPERMPS     Z22, Z2, Z5; \
	VFMADD213PS Z5, Z3, Z4; \
	VPERMPS     Z21, Z2, Z5; \
	VFMADD213PS Z5, Z3, Z4; \
	VPERMPS     Z20, Z2, Z5; \
	VFMADD213PS Z5, Z3, Z4; \
	VPERMPS     Z19, Z2, Z5; \
	VFMADD213PS Z5, Z3, Z4; \
	VPERMPS     Z18, Z2, Z5; \
	VFMADD213PS Z5, Z3, Z4; \
	VPERMPS     Z17, Z2, Z5; \
	VFMADD213PS Z5, Z3, Z4; \
	VPANDD      Z13, Z0, Z6; \
	VPXORD      Z6, Z4, Z4; \
	VMULPS      Z12, Z0, Z7; \
	VFMADD213PS Z7, Z7, Z4

// GELUCONST16 loads GELU16's constants: GELU8's in Z8-Z13 (so GELU8 can run
// on their low halves) and the nine erfTab rows in Z16-Z24.
#define GELUCONST16 \
	VBROADCASTSS     geluConst<>+0(SB), Z8; \
	VBROADCASTSS     geluConst<>+4(SB), Z9; \
	VBROADCASTSS     geluConst<>+8(SB), Z10; \
	VPBROADCASTD     geluConst<>+12(SB), Z11; \
	VBROADCASTSS     geluConst<>+16(SB), Z12; \
	VBROADCASTSS     geluConst<>+20(SB), Z13; \
	VBROADCASTF64X4  erfTab<>+0(SB), Z16; \
	VBROADCASTF64X4  erfTab<>+32(SB), Z17; \
	VBROADCASTF64X4  erfTab<>+64(SB), Z18; \
	VBROADCASTF64X4  erfTab<>+96(SB), Z19; \
	VBROADCASTF64X4  erfTab<>+128(SB), Z20; \
	VBROADCASTF64X4  erfTab<>+160(SB), Z21; \
	VBROADCASTF64X4  erfTab<>+192(SB), Z22; \
	VBROADCASTF64X4  erfTab<>+224(SB), Z23; \
	VBROADCASTF64X4  erfTab<>+256(SB), Z24

// func geluTileAVX512(out *float32, ldo, rows, cols int)
// geluTileAVX2 16 columns at a time; cols is a multiple of 8 (a last 8 go
// through GELU8).
TEXT ·geluTileAVX512(SB), NOSPLIT, $0-32
	MOVQ out+0(FP), DI
	MOVQ ldo+8(FP), R11
	SHLQ $2, R11
	MOVQ rows+16(FP), R8
	MOVQ cols+24(FP), CX
	MOVQ CX, DX
	ANDQ $-16, DX
	GELUCONST16

gzrow:
	TESTQ R8, R8
	JZ    gzdone
	XORQ  BX, BX

gzloop:
	CMPQ    BX, DX
	JGE     gztail
	VMOVUPS (DI)(BX*4), Z0
	GELU16
	VMOVUPS Z4, (DI)(BX*4)
	ADDQ    $16, BX
	JMP     gzloop

gztail:
	CMPQ    BX, CX
	JGE     gznext
	VMOVUPS (DI)(BX*4), Y0
	GELU8
	VMOVUPS Y4, (DI)(BX*4)

gznext:
	ADDQ R11, DI
	DECQ R8
	JMP  gzrow

gzdone:
	VZEROUPPER
	RET

// EXP16(x, a, b, c, d) is EXP8 on the 16 lanes of x, with the constants in
// Z2, Z10-Z15 (as EXP8's) and the polynomial in Z16-Z21; a-d are scratch.
#define EXP16(x, a, b, c, d) \
	VMINPS      Z10, x, x; \
	VMAXPS      Z11, x, x; \
	VMULPS      Z12, x, a; \
	VRNDSCALEPS $0, a, a; \
	VMOVAPS     x, b; \
	VFMADD231PS Z13, a, b; \
	VFMADD231PS Z14, a, b; \
	VMOVAPS     Z16, c; \
	VFMADD213PS Z17, b, c; \
	VFMADD213PS Z18, b, c; \
	VFMADD213PS Z19, b, c; \
	VFMADD213PS Z20, b, c; \
	VFMADD213PS Z21, b, c; \
	VFMADD213PS Z15, b, c; \
	VFMADD213PS Z15, b, c; \
	VCVTPS2DQ   a, d; \
	VPADDD      Z2, d, d; \
	VPSLLD      $23, d, d; \
	VMULPS      d, c, x

// The AVX512_BF16 conversions, which the Go assembler does not know,
// encoded by hand (EVEX, register operands only): VCVTNE2PS2BF16 zmm2, zmm1,
// zmm0 (Z2's low 16 halves from Z0, high from Z1), and VCVTNEPS2BF16 ymm2,
// zmm0 / ymm30, zmm0 / ymm31, zmm22. ToBF16 is their rounding.
#define CVT2BF16_Z0Z1_Z2 BYTE $0x62; BYTE $0xf2; BYTE $0x77; BYTE $0x48; BYTE $0x72; BYTE $0xd0
#define CVTBF16_Z0_Y2 BYTE $0x62; BYTE $0xf2; BYTE $0x7e; BYTE $0x48; BYTE $0x72; BYTE $0xd0
#define CVTBF16_Z0_Y30 BYTE $0x62; BYTE $0x62; BYTE $0x7e; BYTE $0x48; BYTE $0x72; BYTE $0xf0
#define CVTBF16_Z22_Y31 BYTE $0x62; BYTE $0x22; BYTE $0x7e; BYTE $0x48; BYTE $0x72; BYTE $0xfe

// func softmaxRowsAVX512(s *float32, rows, l int, scale float32, sums *float32, pw *uint32)
//
// softmaxRowsAVX2's rows two at a time (A, and B the next one; an odd last
// row is its own B), their passes interleaved so that the two dependency
// chains overlap, 16 lanes a step and the last l mod 16 values through the
// mask K3: each value in its lane i%8 in order, so the same bits. With pw
// not nil (AVX512_BF16 CPUs only) the exponentials go to pw as bf16 pairs,
// (l+1)/2 words a row (an odd l's last word ends in 0: K4 covers the tail's
// values rounded up to even), instead of back to s.
//
// Registers: SI, DX rows A and B of s; R13, AX their words; DI sums; R8 rows
// left; R10, R11 bytes per row of s and of pw; R12 = l &^ 15; R9 = l mod 16.
// Z1, Z7 the maxima; Z9, Z27 the two -(scale·max); Y1, Y28 the lane sums.
TEXT ·softmaxRowsAVX512(SB), NOSPLIT, $0-48
	MOVQ         s+0(FP), SI
	MOVQ         rows+8(FP), R8
	MOVQ         sums+32(FP), DI
	MOVQ         pw+40(FP), R13
	VBROADCASTSS scale+24(FP), Z8
	VBROADCASTSS expConst<>+0(SB), Z10
	VBROADCASTSS expConst<>+4(SB), Z11
	VBROADCASTSS expConst<>+8(SB), Z12
	VBROADCASTSS expConst<>+12(SB), Z13
	VBROADCASTSS expConst<>+16(SB), Z14
	VBROADCASTSS expConst<>+44(SB), Z15
	VPBROADCASTD expConst<>+48(SB), Z2
	VBROADCASTSS expConst<>+20(SB), Z16
	VBROADCASTSS expConst<>+24(SB), Z17
	VBROADCASTSS expConst<>+28(SB), Z18
	VBROADCASTSS expConst<>+32(SB), Z19
	VBROADCASTSS expConst<>+36(SB), Z20
	VBROADCASTSS expConst<>+40(SB), Z21
	VBROADCASTSS rowConst<>+0(SB), Z29 // -Inf
	MOVQ         l+16(FP), CX
	MOVQ         CX, R12
	ANDQ         $-16, R12
	MOVQ         CX, R9
	ANDQ         $15, R9
	MOVQ         CX, R10
	SHLQ         $2, R10
	LEAQ         1(CX), R11
	SHRQ         $1, R11
	SHLQ         $2, R11
	MOVQ         R9, CX
	MOVL         $1, AX
	SHLL         CX, AX
	DECL         AX
	KMOVW        AX, K3
	INCQ         CX
	ANDQ         $-2, CX
	MOVL         $1, AX
	SHLL         CX, AX
	DECL         AX
	KMOVW        AX, K4

szpair:
	TESTQ R8, R8
	JZ    szdone
	MOVQ  R10, DX
	MOVQ  R11, AX
	CMPQ  R8, $1
	JNE   szrows
	XORQ  DX, DX // the last row, alone: B is A
	XORQ  AX, AX

szrows:
	ADDQ    SI, DX
	ADDQ    R13, AX
	VMOVAPS Z29, Z1
	VMOVAPS Z29, Z7
	XORQ    BX, BX

szmax:
	CMPQ    BX, R12
	JGE     szmaxtail
	VMOVUPS (SI)(BX*4), Z0
	VMOVUPS (DX)(BX*4), Z3
	VMAXPS  Z1, Z0, Z1 // the data first: a NaN in it is passed over
	VMAXPS  Z7, Z3, Z7
	ADDQ    $16, BX
	JMP     szmax

szmaxtail:
	TESTQ   R9, R9
	JZ      szmaxred
	VMOVAPS Z29, Z0
	VMOVAPS Z29, Z3
	VMOVUPS (SI)(BX*4), K3, Z0 // lanes past l stay -Inf
	VMOVUPS (DX)(BX*4), K3, Z3
	VMAXPS  Z1, Z0, Z1
	VMAXPS  Z7, Z3, Z7

szmaxred: // max is exact: any grouping of the lanes gives the twin's value
	VEXTRACTF64X4 $1, Z1, Y3
	VMAXPS        Y3, Y1, Y1
	NEGSCALEDMAX
	VBROADCASTSS  X3, Z9
	VEXTRACTF64X4 $1, Z7, Y3
	VMAXPS        Y3, Y7, Y1
	NEGSCALEDMAX
	VBROADCASTSS  X3, Z27
	VXORPS        Y1, Y1, Y1
	VPXORD        Z28, Z28, Z28
	XORQ          BX, BX

szexp:
	CMPQ        BX, R12
	JGE         szexptail
	VMOVUPS     (SI)(BX*4), Z0
	VMOVUPS     (DX)(BX*4), Z22 // both loaded before either is stored: B may be A
	VFMADD213PS Z9, Z8, Z0
	VFMADD213PS Z27, Z8, Z22
	EXP16(Z0, Z3, Z4, Z5, Z6)
	EXP16(Z22, Z23, Z24, Z25, Z26)
	TESTQ       R13, R13
	JNZ         szw
	VMOVUPS     Z0, (SI)(BX*4)
	VMOVUPS     Z22, (DX)(BX*4)
	JMP         szsum

szw:
	CVTBF16_Z0_Y30
	CVTBF16_Z22_Y31
	VMOVDQU32 Y30, (R13)(BX*2)
	VMOVDQU32 Y31, (AX)(BX*2)

szsum:
	VEXTRACTF64X4 $1, Z0, Y3
	VADDPS        Y0, Y1, Y1
	VADDPS        Y3, Y1, Y1
	VEXTRACTF64X4 $1, Z22, Y23
	VADDPS        Y22, Y28, Y28
	VADDPS        Y23, Y28, Y28
	ADDQ          $16, BX
	JMP           szexp

szexptail:
	TESTQ       R9, R9
	JZ          szsums
	VMOVUPS.Z   (SI)(BX*4), K3, Z0
	VMOVUPS.Z   (DX)(BX*4), K3, Z22
	VFMADD213PS Z9, Z8, Z0
	VFMADD213PS Z27, Z8, Z22
	EXP16(Z0, Z3, Z4, Z5, Z6)
	EXP16(Z22, Z23, Z24, Z25, Z26)
	VMOVAPS.Z   Z0, K3, Z0 // lanes past l add 0: the sums stay exact
	VMOVAPS.Z   Z22, K3, Z22
	TESTQ       R13, R13
	JNZ         szwtail
	VMOVUPS     Z0, K3, (SI)(BX*4)
	VMOVUPS     Z22, K3, (DX)(BX*4)
	JMP         szsumtail

szwtail:
	CVTBF16_Z0_Y30
	CVTBF16_Z22_Y31
	VMOVDQU16 Y30, K4, (R13)(BX*2)
	VMOVDQU16 Y31, K4, (AX)(BX*2)

szsumtail:
	VEXTRACTF64X4 $1, Z0, Y3
	VADDPS        Y0, Y1, Y1
	VADDPS        Y3, Y1, Y1
	VEXTRACTF64X4 $1, Z22, Y23
	VADDPS        Y22, Y28, Y28
	VADDPS        Y23, Y28, Y28

szsums:
	LANESUM8
	VMOVSS  X3, (DI)
	CMPQ    R8, $1
	JE      szdone
	VMOVAPS Y28, Y1
	LANESUM8
	VMOVSS  X3, 4(DI)
	ADDQ    $8, DI
	LEAQ    (SI)(R10*2), SI
	TESTQ   R13, R13
	JZ      sznext
	LEAQ    (R13)(R11*2), R13

sznext:
	SUBQ $2, R8
	JMP  szpair

szdone:
	VZEROUPPER
	RET

// func layerNormAVX512(out, x, res, gamma, beta *float32, n int, eps float32)
// layerNormAVX2 16 values at a time: the float64 sums s[0:8], s[8:16] in Z4,
// Z5 and the squares q[0:16], q[16:32] in Z0, Z1, each lane fed the values
// it is fed there, in the same order; n is a multiple of 8.
TEXT ·layerNormAVX512(SB), NOSPLIT, $0-52
	MOVQ   out+0(FP), DI
	MOVQ   x+8(FP), SI
	MOVQ   res+16(FP), R11
	MOVQ   gamma+24(FP), R12
	MOVQ   beta+32(FP), R13
	MOVQ   n+40(FP), CX
	MOVQ   CX, DX
	ANDQ   $-16, DX
	MOVL   $0xff, AX
	KMOVW  AX, K1                  // the low 8 lanes
	VPXORQ Z4, Z4, Z4
	VPXORQ Z5, Z5, Z5
	XORQ   BX, BX

	// y = x + res into out; s[i%16] += float64(y).
lzsum16:
	CMPQ    BX, DX
	JGE     lzsum8
	VMOVUPS (SI)(BX*4), Z0
	TESTQ   R11, R11
	JZ      lzsum16a
	VADDPS  (R11)(BX*4), Z0, Z0

lzsum16a:
	VMOVUPS       Z0, (DI)(BX*4)
	VCVTPS2PD     Y0, Z2
	VADDPD        Z2, Z4, Z4
	VEXTRACTF64X4 $1, Z0, Y1
	VCVTPS2PD     Y1, Z2
	VADDPD        Z2, Z5, Z5
	ADDQ          $16, BX
	JMP           lzsum16

lzsum8:
	CMPQ    BX, CX
	JGE     lzmean
	VMOVUPS (SI)(BX*4), Y0
	TESTQ   R11, R11
	JZ      lzsum8a
	VADDPS  (R11)(BX*4), Y0, Y0

lzsum8a:
	VMOVUPS   Y0, (DI)(BX*4)
	VCVTPS2PD Y0, Z2
	VADDPD    Z2, Z4, Z4

lzmean:
	// tree16 as layerNormAVX2's: (s[j]+s[j+4]) + (s[j+8]+s[j+12]), ...
	VEXTRACTF64X4 $1, Z4, Y6
	VADDPD        Y6, Y4, Y4
	VEXTRACTF64X4 $1, Z5, Y7
	VADDPD        Y7, Y5, Y5
	VADDPD        Y5, Y4, Y4
	LNMEAN
	VBROADCASTSS  X4, Z8

	// d = y - mean into out; q[i%32] = fma(d, d, q[i%32]).
	VPXORQ Z0, Z0, Z0
	VPXORQ Z1, Z1, Z1
	XORQ   BX, BX
	MOVQ   CX, R9
	ANDQ   $-32, R9

lzsq32:
	CMPQ        BX, R9
	JGE         lzsqtail
	VMOVUPS     (DI)(BX*4), Z4
	VMOVUPS     64(DI)(BX*4), Z5
	VSUBPS      Z8, Z4, Z4
	VSUBPS      Z8, Z5, Z5
	VMOVUPS     Z4, (DI)(BX*4)
	VMOVUPS     Z5, 64(DI)(BX*4)
	VFMADD231PS Z4, Z4, Z0
	VFMADD231PS Z5, Z5, Z1
	ADDQ        $32, BX
	JMP         lzsq32

lzsqtail:
	// 0, 8, 16 or 24 values left: q[0:8], q[0:16], then q[16:24].
	MOVQ        CX, R9
	SUBQ        BX, R9
	CMPQ        R9, $16
	JLT         lzsq8
	VMOVUPS     (DI)(BX*4), Z4
	VSUBPS      Z8, Z4, Z4
	VMOVUPS     Z4, (DI)(BX*4)
	VFMADD231PS Z4, Z4, Z0
	ADDQ        $16, BX
	CMPQ        BX, CX
	JGE         lzvar
	VMOVUPS     (DI)(BX*4), Y4
	VSUBPS      Y8, Y4, Y4
	VMOVUPS     Y4, (DI)(BX*4)
	VFMADD231PS Z4, Z4, K1, Z1
	JMP         lzvar

lzsq8:
	TESTQ       R9, R9
	JZ          lzvar
	VMOVUPS     (DI)(BX*4), Y4
	VSUBPS      Y8, Y4, Y4
	VMOVUPS     Y4, (DI)(BX*4)
	VFMADD231PS Z4, Z4, K1, Z0

lzvar:
	// tree32 as layerNormAVX2's: (q[j]+q[j+8]) + (q[j+16]+q[j+24]), ...
	VEXTRACTF64X4 $1, Z0, Y2
	VADDPS        Y2, Y0, Y0
	VEXTRACTF64X4 $1, Z1, Y3
	VADDPS        Y3, Y1, Y1
	VADDPS        Y1, Y0, Y0
	LNINV
	VBROADCASTSS  X0, Z8
	XORQ          BX, BX

	// out = fma(d·inv, gamma, beta).
lzaff16:
	CMPQ        BX, DX
	JGE         lzaff8
	LNAFFINE(Z0, Z1, Z8)
	ADDQ        $16, BX
	JMP         lzaff16

lzaff8:
	CMPQ        BX, CX
	JGE         lzdone
	LNAFFINE(Y0, Y1, Y8)

lzdone:
	VZEROUPPER
	RET

// func packPanelAVX512(panel, w *float32, idx *[16]int32, nv, k int)
// For c < k: panel[c·16 + j] = w[idx[j] + c] for lanes j < nv, 0 for the rest.
TEXT ·packPanelAVX512(SB), NOSPLIT, $0-40
	MOVQ panel+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ idx+16(FP), AX
	MOVQ nv+24(FP), CX
	MOVQ k+32(FP), DX
	VMOVDQU32 (AX), Z1
	MOVL $1, BX
	SHLL CX, BX
	DECL BX
	KMOVW BX, K1
	TESTQ DX, DX
	JZ   packdone

packloop:
	KMOVW K1, K2 // the gather clears its mask
	VXORPS Z0, Z0, Z0
	VGATHERDPS (SI)(Z1*4), K2, Z0
	VMOVUPS Z0, (DI)
	ADDQ $4, SI
	ADDQ $64, DI
	DECQ DX
	JNZ  packloop

packdone:
	VZEROUPPER
	RET

// LANES4X4(a, b, c, d, o0, o1, o2, o3) transposes the 4×4 grid of 128-bit
// lanes of a-d (Z16-Z23 scratch) and stores its four rows at DI+o0..o3:
// the last step of packPanel16AVX512's 16×16 transpose.
#define LANES4X4(a, b, c, d, o0, o1, o2, o3) \
	VSHUFF32X4 $0x44, b, a, Z16; \
	VSHUFF32X4 $0xEE, b, a, Z17; \
	VSHUFF32X4 $0x44, d, c, Z18; \
	VSHUFF32X4 $0xEE, d, c, Z19; \
	VSHUFF32X4 $0x88, Z18, Z16, Z20; \
	VSHUFF32X4 $0xDD, Z18, Z16, Z21; \
	VSHUFF32X4 $0x88, Z19, Z17, Z22; \
	VSHUFF32X4 $0xDD, Z19, Z17, Z23; \
	VMOVUPS    Z20, o0(DI); \
	VMOVUPS    Z21, o1(DI); \
	VMOVUPS    Z22, o2(DI); \
	VMOVUPS    Z23, o3(DI)

// func packPanel16AVX512(panel, w *float32, ldw, blocks int)
// One full panel (16 rows of w, row stride ldw floats), blocks·16 columns:
// each 16×16 block is loaded as 16 rows and transposed in registers (two
// unpack stages within 128-bit lanes, two lane-shuffle stages), so that
// panel[c·16 + j] = w[j·ldw + c].
TEXT ·packPanel16AVX512(SB), NOSPLIT, $0-32
	MOVQ panel+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ ldw+16(FP), R8
	SHLQ $2, R8
	MOVQ blocks+24(FP), DX
	TESTQ DX, DX
	JZ   t16done

t16loop:
	MOVQ SI, AX
	VMOVUPS (AX), Z0
	ADDQ R8, AX
	VMOVUPS (AX), Z1
	ADDQ R8, AX
	VMOVUPS (AX), Z2
	ADDQ R8, AX
	VMOVUPS (AX), Z3
	ADDQ R8, AX
	VMOVUPS (AX), Z4
	ADDQ R8, AX
	VMOVUPS (AX), Z5
	ADDQ R8, AX
	VMOVUPS (AX), Z6
	ADDQ R8, AX
	VMOVUPS (AX), Z7
	ADDQ R8, AX
	VMOVUPS (AX), Z8
	ADDQ R8, AX
	VMOVUPS (AX), Z9
	ADDQ R8, AX
	VMOVUPS (AX), Z10
	ADDQ R8, AX
	VMOVUPS (AX), Z11
	ADDQ R8, AX
	VMOVUPS (AX), Z12
	ADDQ R8, AX
	VMOVUPS (AX), Z13
	ADDQ R8, AX
	VMOVUPS (AX), Z14
	ADDQ R8, AX
	VMOVUPS (AX), Z15
	// A_p = rows 2p,2p+1 interleaved (lo halves of each lane) in Z16+p, B_p (hi) in Z24+p.
	VUNPCKLPS Z1, Z0, Z16
	VUNPCKHPS Z1, Z0, Z24
	VUNPCKLPS Z3, Z2, Z17
	VUNPCKHPS Z3, Z2, Z25
	VUNPCKLPS Z5, Z4, Z18
	VUNPCKHPS Z5, Z4, Z26
	VUNPCKLPS Z7, Z6, Z19
	VUNPCKHPS Z7, Z6, Z27
	VUNPCKLPS Z9, Z8, Z20
	VUNPCKHPS Z9, Z8, Z28
	VUNPCKLPS Z11, Z10, Z21
	VUNPCKHPS Z11, Z10, Z29
	VUNPCKLPS Z13, Z12, Z22
	VUNPCKHPS Z13, Z12, Z30
	VUNPCKLPS Z15, Z14, Z23
	VUNPCKHPS Z15, Z14, Z31
	// C(q,m) in Z4m+q: lane l holds column 4l+m of rows 4q..4q+3.
	VUNPCKLPD Z17, Z16, Z0
	VUNPCKHPD Z17, Z16, Z4
	VUNPCKLPD Z25, Z24, Z8
	VUNPCKHPD Z25, Z24, Z12
	VUNPCKLPD Z19, Z18, Z1
	VUNPCKHPD Z19, Z18, Z5
	VUNPCKLPD Z27, Z26, Z9
	VUNPCKHPD Z27, Z26, Z13
	VUNPCKLPD Z21, Z20, Z2
	VUNPCKHPD Z21, Z20, Z6
	VUNPCKLPD Z29, Z28, Z10
	VUNPCKHPD Z29, Z28, Z14
	VUNPCKLPD Z23, Z22, Z3
	VUNPCKHPD Z23, Z22, Z7
	VUNPCKLPD Z31, Z30, Z11
	VUNPCKHPD Z31, Z30, Z15
	// For each m, a 4×4 transpose of 128-bit lanes gives columns m, 4+m, 8+m, 12+m.
	LANES4X4(Z0, Z1, Z2, Z3, 0, 256, 512, 768)
	LANES4X4(Z4, Z5, Z6, Z7, 64, 320, 576, 832)
	LANES4X4(Z8, Z9, Z10, Z11, 128, 384, 640, 896)
	LANES4X4(Z12, Z13, Z14, Z15, 192, 448, 704, 960)
	ADDQ $64, SI
	ADDQ $1024, DI
	DECQ DX
	JNZ  t16loop

t16done:
	VZEROUPPER
	RET

// func bf16RowsAVX512(dst *uint32, ldd int, src *float32, lds, rows, k int)
// Per row, 32 floats to 16 words per VCVTNE2PS2BF16 (AVX512_BF16), then 16
// with VCVTNEPS2BF16, then the last k%16 floats through a zeroing masked
// load (K3) and a masked store (K4) of their (k%16+1)/2 words: an odd k's
// last word pairs with the 0 read past it.
TEXT ·bf16RowsAVX512(SB), NOSPLIT, $0-48
	MOVQ  dst+0(FP), DI
	MOVQ  ldd+8(FP), R8
	SHLQ  $2, R8 // bytes per row of dst
	MOVQ  src+16(FP), SI
	MOVQ  lds+24(FP), R9
	SHLQ  $2, R9 // bytes per row of src
	MOVQ  rows+32(FP), R10
	MOVQ  k+40(FP), R11
	SHRQ  $4, R11 // whole 16-float steps per row
	MOVQ  k+40(FP), CX
	ANDQ  $15, CX // floats in the tail
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K3
	MOVQ  CX, R13
	INCQ  CX
	ANDQ  $-2, CX // halves the tail stores: its floats rounded up to even
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K4
	MOVQ  R13, CX

brrow:
	MOVQ SI, AX
	MOVQ DI, BX
	MOVQ R11, R12

brstep2:
	CMPQ           R12, $2
	JLT            brstep1
	VMOVUPS        (AX), Z0
	VMOVUPS        64(AX), Z1
	CVT2BF16_Z0Z1_Z2 // Z0's halves low, Z1's high: the row's order
	VMOVDQU32      Z2, (BX)
	ADDQ           $128, AX
	ADDQ           $64, BX
	SUBQ           $2, R12
	JMP            brstep2

brstep1:
	TESTQ         R12, R12
	JZ            brtail
	VMOVUPS       (AX), Z0
	CVTBF16_Z0_Y2
	VMOVDQU       Y2, (BX)
	ADDQ          $64, AX
	ADDQ          $32, BX

brtail:
	TESTQ         CX, CX
	JZ            brnext
	VMOVUPS.Z     (AX), K3, Z0
	CVTBF16_Z0_Y2
	VMOVDQU16     Y2, K4, (BX)

brnext:
	ADDQ R9, SI
	ADDQ R8, DI
	DECQ R10
	JNZ  brrow
	VZEROUPPER
	RET

// func packTBF16PanelsAVX512(data *uint32, wt *float32, ldwt, panels, k int)
// For c < kw = (k+1)/2 and pn < panels: the 16 words at data + (pn·16·kw +
// c·16) pair the bf16 of the 16 floats at wt + 2c·ldwt + 16·pn (low halves)
// with those at wt + (2c+1)·ldwt + 16·pn (high halves; 0 when 2c+1 = k):
// both rows rounded by one VCVTNE2PS2BF16 (AVX512_BF16), then interleaved
// by one VPERMW.
TEXT ·packTBF16PanelsAVX512(SB), NOSPLIT, $0-40
	MOVQ      data+0(FP), DI
	MOVQ      wt+8(FP), SI
	MOVQ      ldwt+16(FP), R8
	SHLQ      $2, R8 // bytes per row of wt
	MOVQ      panels+24(FP), R10
	MOVQ      k+32(FP), DX // rows of wt left
	LEAQ      1(DX), R9
	SHRQ      $1, R9
	SHLQ      $6, R9 // bytes from one panel to the next: 16·kw words
	VMOVDQU32 pairHalves<>(SB), Z5
	VPXORD    Z1, Z1, Z1

tbpair:
	CMPQ DX, $1
	JLE  tblast
	MOVQ SI, AX
	LEAQ (SI)(R8*1), R11
	MOVQ DI, BX
	MOVQ R10, CX

tbpanel:
	VMOVUPS        (AX), Z0
	VMOVUPS        (R11), Z1
	CVT2BF16_Z0Z1_Z2
	VPERMW         Z2, Z5, Z2
	VMOVDQU32      Z2, (BX)
	ADDQ           $64, AX
	ADDQ           $64, R11
	ADDQ           R9, BX
	DECQ           CX
	JNZ            tbpanel
	LEAQ           (SI)(R8*2), SI
	ADDQ           $64, DI
	SUBQ           $2, DX
	JMP            tbpair

tblast: // an odd k's last row pairs with zeros
	TESTQ  DX, DX
	JZ     tbdone
	MOVQ   SI, AX
	MOVQ   DI, BX
	MOVQ   R10, CX
	VPXORD Z1, Z1, Z1

tblpanel:
	VMOVUPS        (AX), Z0
	CVT2BF16_Z0Z1_Z2
	VPERMW         Z2, Z5, Z2
	VMOVDQU32      Z2, (BX)
	ADDQ           $64, AX
	ADDQ           R9, BX
	DECQ           CX
	JNZ            tblpanel

tbdone:
	VZEROUPPER
	RET

// pairHalves is the VPERMW index that interleaves the two halves of a
// VCVTNE2PS2BF16 result: half 2j ← j, half 2j+1 ← 16+j.
DATA pairHalves<>+0(SB)/4, $0x00100000
DATA pairHalves<>+4(SB)/4, $0x00110001
DATA pairHalves<>+8(SB)/4, $0x00120002
DATA pairHalves<>+12(SB)/4, $0x00130003
DATA pairHalves<>+16(SB)/4, $0x00140004
DATA pairHalves<>+20(SB)/4, $0x00150005
DATA pairHalves<>+24(SB)/4, $0x00160006
DATA pairHalves<>+28(SB)/4, $0x00170007
DATA pairHalves<>+32(SB)/4, $0x00180008
DATA pairHalves<>+36(SB)/4, $0x00190009
DATA pairHalves<>+40(SB)/4, $0x001a000a
DATA pairHalves<>+44(SB)/4, $0x001b000b
DATA pairHalves<>+48(SB)/4, $0x001c000c
DATA pairHalves<>+52(SB)/4, $0x001d000d
DATA pairHalves<>+56(SB)/4, $0x001e000e
DATA pairHalves<>+60(SB)/4, $0x001f000f
GLOBL pairHalves<>(SB), RODATA|NOPTR, $64

// func packTPanelsAVX2(data, wt *float32, ldwt, panels, k int)
// For c < k and pn < panels: the 16 floats at wt + c·ldwt + 16·pn go to
// data + (pn·16·k + c·16), as two YMM loads and stores.
TEXT ·packTPanelsAVX2(SB), NOSPLIT, $0-40
	MOVQ data+0(FP), DI
	MOVQ wt+8(FP), SI
	MOVQ ldwt+16(FP), R8
	SHLQ $2, R8
	MOVQ panels+24(FP), R10
	MOVQ k+32(FP), DX
	MOVQ DX, R9
	SHLQ $6, R9 // bytes from one panel to the next: 16·k floats

ptrow:
	MOVQ SI, AX
	MOVQ DI, BX
	MOVQ R10, CX

ptpanel:
	VMOVUPS (AX), Y0
	VMOVUPS 32(AX), Y1
	VMOVUPS Y0, (BX)
	VMOVUPS Y1, 32(BX)
	ADDQ    $64, AX
	ADDQ    R9, BX
	DECQ    CX
	JNZ     ptpanel
	ADDQ    R8, SI
	ADDQ    $64, DI
	DECQ    DX
	JNZ     ptrow
	VZEROUPPER
	RET
