//go:build !linux

package fedtest

import "syscall"

// sysProcAttr: without Pdeathsig, only t.Cleanup stops node processes.
func sysProcAttr() *syscall.SysProcAttr { return nil }
