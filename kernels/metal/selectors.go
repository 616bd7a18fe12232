package metal

// Objective-C selectors the darwin layer sends through objc.Call because
// darwinkit v0.5.0's wrappers for them panic: they pass a Metal object
// through objc.WrapAsProtocol, which panics unless its type parameter is an
// interface (objc/protocol.go). Every selector the package sends by name is
// here and nowhere else; selectors_test.go checks each against darwinkit's
// generated sources, since objc.Call silently returns a zero value for a
// selector the object does not implement.
const (
	// -[MTLDevice newComputePipelineStateWithFunction:error:]
	selNewComputePipelineState = "newComputePipelineStateWithFunction:error:"
	// -[MTLComputeCommandEncoder setComputePipelineState:]
	selSetComputePipelineState = "setComputePipelineState:"
	// -[MTLComputeCommandEncoder setBuffer:offset:atIndex:]
	selSetBuffer = "setBuffer:offset:atIndex:"
)

// selectorOwners maps each selector to the darwinkit file (macos/metal/)
// whose generated wrapper declares it, for selectors_test.go.
var selectorOwners = map[string]string{
	selNewComputePipelineState: "device_protocol.gen.go",
	selSetComputePipelineState: "compute_command_encoder_protocol.gen.go",
	selSetBuffer:               "compute_command_encoder_protocol.gen.go",
}
