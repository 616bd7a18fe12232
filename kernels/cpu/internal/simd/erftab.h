// erfTab, shared by vec_amd64.s and vec_arm64.s: row 0 erfCenter, rows 1..8
// erfPoly[0..7] (see generic.go; TestGELUVariants holds the assembly to the
// Go twin bit for bit), 8 floats (32 bytes) a row, indexed by interval.
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
