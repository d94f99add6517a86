//go:build unix

package demo

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user + system) this process has used so far,
// over all its threads: with the demo's nodes in-process, the whole
// federation's. Zero if it cannot be read.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
