//go:build darwin && cgo

package metal

/*
#cgo LDFLAGS: -framework Metal -framework CoreGraphics
void *MTLCreateSystemDefaultDevice(void);
*/
import "C"

import "unsafe"

// systemDefaultDevice returns the id<MTLDevice> (+1) or nil. darwinkit
// v0.5.0 has no binding for MTLCreateSystemDefaultDevice; CoreGraphics must
// be linked for macOS to hand out a device.
func systemDefaultDevice() unsafe.Pointer { return C.MTLCreateSystemDefaultDevice() }
