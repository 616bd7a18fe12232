// Command darwincheck type-checks every package of the module as it builds
// on macOS (GOOS=darwin, GOARCH=arm64, cgo on), from Linux, where the Go
// toolchain cannot compile it without a macOS SDK. Run it from the module
// root with no arguments; it exits 1 on any type error in the module's
// packages.
//
// It lists the packages and their dependencies with `go list -deps -json`
// under the darwin environment (listing runs no cgo), parses every GoFiles
// and CgoFiles entry, and type-checks them from source in dependency order
// with go/types, faking the C pseudo-package (FakeImportC): references to C
// are not checked, nor are linking and the Objective-C runtime.
//
// It also flags calls to darwinkit methods that panic in v0.5.0: every
// method whose body passes a value to objc.WrapAsProtocol, found by scanning
// darwinkit's own sources, since WrapAsProtocol panics unless its type
// parameter is an interface and the generated wrappers pass concrete structs.
// Send those selectors with objc.Call instead (see kernels/metal/selectors.go).
package main
