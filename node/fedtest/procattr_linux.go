package fedtest

import "syscall"

// sysProcAttr kills node processes when the test binary dies (for example
// on a `go test -timeout` panic, when no cleanup runs).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
