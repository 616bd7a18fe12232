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

// erfTab: row 0 erfCenter, rows 1..8 erfPoly[0..7] (see generic.go), one
// 32-byte row each, indexed by interval with VPERMPS.
DATA erfTab<>+0(SB)/4, $0.375
DATA erfTab<>+4(SB)/4, $1.125
DATA erfTab<>+8(SB)/4, $1.875
DATA erfTab<>+12(SB)/4, $2.625
DATA erfTab<>+16(SB)/4, $3.375
DATA erfTab<>+20(SB)/4, $4.125
DATA erfTab<>+24(SB)/4, $4.875
DATA erfTab<>+28(SB)/4, $5.625
DATA erfTab<>+32(SB)/4, $0x3e95ad87 // 0.29233953
DATA erfTab<>+36(SB)/4, $0x3f3d4a09 // 0.73941094
DATA erfTab<>+40(SB)/4, $0x3f706fe3 // 0.93920726
DATA erfTab<>+44(SB)/4, $0x3f7dc823 // 0.9913351
DATA erfTab<>+48(SB)/4, $0x3f7fcfa0 // 0.99926186
DATA erfTab<>+52(SB)/4, $0x3f7ffd92 // 0.9999629
DATA erfTab<>+56(SB)/4, $0x3f7fffee // 0.9999989
DATA erfTab<>+60(SB)/4, $0x3f800000 // 1
DATA erfTab<>+64(SB)/4, $0x3f3e63ca // 0.74371016
DATA erfTab<>+68(SB)/4, $0x3ed8f631 // 0.4237533
DATA erfTab<>+72(SB)/4, $0x3e0cdfd2 // 0.13757256
DATA erfTab<>+76(SB)/4, $0x3cd07916 // 0.025448363
DATA erfTab<>+80(SB)/4, $0x3b2fc87c // 0.002682238
DATA erfTab<>+84(SB)/4, $0x3928e7d3 // 0.0001610809
DATA erfTab<>+88(SB)/4, $0x36b8f2b6 // 5.5118826e-06
DATA erfTab<>+92(SB)/4, $0x33e6c723 // 1.07464324e-07
DATA erfTab<>+96(SB)/4, $0xbe0ecabb // -0.13944523
DATA erfTab<>+100(SB)/4, $0xbe7414f5 // -0.2383612
DATA erfTab<>+104(SB)/4, $0xbe0411e3 // -0.12897448
DATA erfTab<>+108(SB)/4, $0xbd08cf67 // -0.03340092
DATA erfTab<>+112(SB)/4, $0xbb9450f2 // -0.004526251
DATA erfTab<>+116(SB)/4, $0xb9ae2fdf // -0.00033223533
DATA erfTab<>+120(SB)/4, $0xb7616ff3 // -1.343711e-05
DATA erfTab<>+124(SB)/4, $0xb4a25945 // -3.0239804e-07
DATA erfTab<>+128(SB)/4, $0xbdda27a4 // -0.10652092
DATA erfTab<>+132(SB)/4, $0x3c99ae24 // 0.018759795
DATA erfTab<>+136(SB)/4, $0x3d6c4213 // 0.0576802
DATA erfTab<>+140(SB)/4, $0x3cccac3e // 0.024984475
DATA erfTab<>+144(SB)/4, $0x3b98352d // 0.004645011
DATA erfTab<>+148(SB)/4, $0x39e16d61 // 0.00042996838
DATA erfTab<>+152(SB)/4, $0x37af70c8 // 2.0914144e-05
DATA erfTab<>+156(SB)/4, $0x351355d0 // 5.488664e-07
DATA erfTab<>+160(SB)/4, $0x3d08094d // 0.033211995
DATA erfTab<>+164(SB)/4, $0x3d0d1adf // 0.034449454
DATA erfTab<>+168(SB)/4, $0xbbb558f4 // -0.0055342857
DATA erfTab<>+172(SB)/4, $0xbc3175a5 // -0.010831271
DATA erfTab<>+176(SB)/4, $0xbb4f7857 // -0.0031657421
DATA erfTab<>+180(SB)/4, $0xb9cb5484 // -0.00038782146
DATA erfTab<>+184(SB)/4, $0xb7c277fd // -2.3182476e-05
DATA erfTab<>+188(SB)/4, $0xb5403053 // -7.1595895e-07
DATA erfTab<>+192(SB)/4, $0x3c5cea3d // 0.013483581
DATA erfTab<>+196(SB)/4, $0xbc2d0914 // -0.010561246
DATA erfTab<>+200(SB)/4, $0xbbd7758e // -0.006575293
DATA erfTab<>+204(SB)/4, $0x3afde905 // 0.0019371813
DATA erfTab<>+208(SB)/4, $0x3abcba96 // 0.0014398869
DATA erfTab<>+212(SB)/4, $0x3986072d // 0.00025563818
DATA erfTab<>+216(SB)/4, $0x37a3ac0e // 1.9511233e-05
DATA erfTab<>+220(SB)/4, $0x35431b2a // 7.268269e-07
DATA erfTab<>+224(SB)/4, $0xbba716a0 // -0.0050991327
DATA erfTab<>+228(SB)/4, $0xbb2a56c9 // -0.002599167
DATA erfTab<>+232(SB)/4, $0x3b316b74 // 0.0027072104
DATA erfTab<>+236(SB)/4, $0x3a2269d5 // 0.000619558
DATA erfTab<>+240(SB)/4, $0xb9c60ee7 // -0.00037776606
DATA erfTab<>+244(SB)/4, $0xb904908b // -0.00012642347
DATA erfTab<>+248(SB)/4, $0xb762dc52 // -1.3521947e-05
DATA erfTab<>+252(SB)/4, $0xb52dfb72 // -6.4813423e-07
DATA erfTab<>+256(SB)/4, $0xbaa9a78a // -0.0012943607
DATA erfTab<>+260(SB)/4, $0x3ad5bae1 // 0.0016306305
DATA erfTab<>+264(SB)/4, $0x38568b68 // 5.1151408e-05
DATA erfTab<>+268(SB)/4, $0xb9eb3f21 // -0.00044869728
DATA erfTab<>+272(SB)/4, $0x374094ee // 1.1478767e-05
DATA erfTab<>+276(SB)/4, $0x38329bcc // 4.2583604e-05
DATA erfTab<>+280(SB)/4, $0x36e3db26 // 6.7906394e-06
DATA erfTab<>+284(SB)/4, $0x34dd36ad // 4.120424e-07
GLOBL erfTab<>(SB), RODATA|NOPTR, $288

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
