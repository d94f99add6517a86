package fedtest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
)

// FreeUDPPort returns a loopback UDP port that was free a moment ago: the
// kernel's choice for port 0. Another process may take it before the caller
// binds it; callers must be ready to retry.
func FreeUDPPort() (int, error) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free UDP port: %w", err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

// FreeTCPPort is FreeUDPPort for TCP.
func FreeTCPPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free TCP port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// FreeBasePort finds a base port for deploy/local/up.sh with n nodes:
// UDP base+1..base+n and TCP base+101..base+100+n all free at the time of
// the call. Candidates come from 20000-29799, below Linux's ephemeral range,
// so outgoing connections of other tests do not take them meanwhile.
func FreeBasePort(n int) (int, error) {
	if n < 1 || n > 99 {
		return 0, fmt.Errorf("free base port: n = %d, want 1..99", n)
	}
	var lastErr error
	for range 50 {
		base := 20000 + 200*rand.IntN(49)
		if err := probeRange(base, n); err != nil {
			lastErr = err
			continue
		}
		return base, nil
	}
	return 0, fmt.Errorf("free base port: no free range found: %w", lastErr)
}

// probeRange binds every port up.sh would use at base, then releases them.
func probeRange(base, n int) error {
	var closers []func() error
	defer func() {
		for _, c := range closers {
			_ = c()
		}
	}()
	for i := 1; i <= n; i++ {
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", base+i))
		if err != nil {
			return err
		}
		closers = append(closers, u.Close)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+100+i))
		if err != nil {
			return err
		}
		closers = append(closers, l.Close)
	}
	return nil
}

// errPortInUse means a node exited at start because a port was taken.
var errPortInUse = errors.New("fedtest: a node's port was taken by another process")
