package bench

import "runtime"

// ThisMachine describes the machine the run is on.
func ThisMachine() Machine {
	return Machine{
		CPUModel: cpuModel(), Cores: runtime.NumCPU(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH,
		GoVersion: runtime.Version(), LoadAvg: loadAvg(),
	}
}
