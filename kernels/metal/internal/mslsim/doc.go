// Package mslsim runs Metal Shading Language compute kernels on the CPU, so
// the Metal backend's shaders are executed and checked on machines without
// Metal.
//
// A library source is translated (Translate) into C++ that compiles with
// clang++ ≥ 15 against runtime/metal_stdlib, a shim for the parts of the
// Metal standard library the kernels use, and linked with runtime/executor.cpp,
// which runs each threadgroup's threads as fibers under a cooperative
// scheduler: threadgroup_barrier is a rendezvous of the whole group (from one
// call site), SIMD-group functions a rendezvous of the 32 lanes, threadgroup
// memory is poisoned with NaN and capped at 32 KiB, threadgroups at 1,024
// threads, and the thread order is round-robin, reversed or shuffled. Every
// load and store of the kernel code is checked (through clang's sanitizer
// instrumentation, see executor.cpp): against its buffer's or threadgroup
// array's bounds, against other threadgroups of the dispatch writing what it
// reads or writes, and against other threads of the group without a
// threadgroup_barrier whose mem_flags publish that address space in between.
// Address spaces are checked at compile time in a separate pass. The
// executable runs as a child process (no cgo): a Request goes in on stdin and
// the buffers come back on stdout.
package mslsim
