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

// func geluAVX2(dst, src *float32, n int)
TEXT ·geluAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS geluConst<>+0(SB), Y8
	VBROADCASTSS geluConst<>+4(SB), Y9
	VBROADCASTSS geluConst<>+8(SB), Y10
	VPBROADCASTD geluConst<>+12(SB), Y11
	VBROADCASTSS geluConst<>+16(SB), Y12
	VBROADCASTSS geluConst<>+20(SB), Y13
	XORQ BX, BX

geluloop:
	CMPQ BX, CX
	JGE  geludone
	VMOVUPS    (SI)(BX*4), Y0
	VANDPS     Y8, Y0, Y1          // a = |x|
	VMINPS     Y9, Y1, Y1          // a = a < 6 ? a : 6
	VMULPS     Y10, Y1, Y2
	VCVTTPS2DQ Y2, Y2
	VPMINSD    Y11, Y2, Y2         // i = min(trunc(a·4/3), 7)
	VPERMPS    erfTab<>+0(SB), Y2, Y3
	VSUBPS     Y3, Y1, Y3          // u = a - centre
	VPERMPS    erfTab<>+256(SB), Y2, Y4
	VPERMPS    erfTab<>+224(SB), Y2, Y5
	VFMADD213PS Y5, Y3, Y4         // p = p·u + c
	VPERMPS    erfTab<>+192(SB), Y2, Y5
	VFMADD213PS Y5, Y3, Y4
	VPERMPS    erfTab<>+160(SB), Y2, Y5
	VFMADD213PS Y5, Y3, Y4
	VPERMPS    erfTab<>+128(SB), Y2, Y5
	VFMADD213PS Y5, Y3, Y4
	VPERMPS    erfTab<>+96(SB), Y2, Y5
	VFMADD213PS Y5, Y3, Y4
	VPERMPS    erfTab<>+64(SB), Y2, Y5
	VFMADD213PS Y5, Y3, Y4
	VPERMPS    erfTab<>+32(SB), Y2, Y5
	VFMADD213PS Y5, Y3, Y4
	VANDPS     Y13, Y0, Y6
	VXORPS     Y6, Y4, Y4          // erf with the sign of x
	VMULPS     Y12, Y0, Y7         // h = x/2
	VFMADD213PS Y7, Y7, Y4         // h·erf + h
	VMOVUPS    Y4, (DI)(BX*4)
	ADDQ       $8, BX
	JMP        geluloop

geludone:
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
