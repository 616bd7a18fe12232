package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// version is set at release builds with
// -ldflags "-X main.version=v1.2.3"; otherwise the module version or the
// VCS stamp of the build is used.
var version string

// versionString describes this build: version, commit, Go and platform.
func versionString(info *debug.BuildInfo, ok bool) string {
	v := version
	var extra []string
	if ok {
		if v == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			v = info.Main.Version
		}
		var rev, at string
		dirty := false
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if rev != "" {
			if len(rev) > 12 {
				rev = rev[:12]
			}
			if dirty {
				rev += "+dirty"
			}
			extra = append(extra, "commit "+rev)
		}
		if at != "" {
			extra = append(extra, at)
		}
	}
	if v == "" {
		v = "devel"
	}
	extra = append(extra, runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
	return fmt.Sprintf("minilm %s (%s)", v, strings.Join(extra, ", "))
}
