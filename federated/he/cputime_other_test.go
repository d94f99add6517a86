//go:build !linux

package he

import "time"

var start = time.Now()

// threadCPU falls back to wall time where per-thread CPU time is unavailable.
func threadCPU() time.Duration { return time.Since(start) }

func lockThread()   {}
func unlockThread() {}
