//go:build !linux

package securesum

import "time"

// threadCPUOK is false: there is no per-thread CPU clock here, and steps
// report their wall time as CPU.
const threadCPUOK = false

func threadCPU() time.Duration { return 0 }
