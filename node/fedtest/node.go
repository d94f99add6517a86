package fedtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/strata-fed/strata/node/admin"
)

// Node is one node of a Cluster: its files, addresses and current process.
// Methods are safe for concurrent use.
type Node struct {
	// Index is the node's position in the cluster (0-based); -1 for nodes
	// added with AddNode.
	Index int
	// Site is the site id, also the raft server id.
	Site string
	// Dir holds the node's config, certificate, key, log and data directory.
	Dir        string
	ConfigPath string
	LogPath    string
	DataDir    string
	// QUICAddr is the UDP address of the transport, also the raft address.
	QUICAddr string
	// AdminAddr is the TCP address of the admin API.
	AdminAddr string

	c    *Cluster
	spec nodeSpec

	mu     sync.Mutex
	proc   *process
	starts int
}

// process is one run of a node.
type process struct {
	cmd     *exec.Cmd
	started time.Time
	done    chan struct{} // closed when the process has exited
	state   *os.ProcessState
	err     error // from Wait
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// ExitCode is the exit code of the node's last process, or -1 if it is
// still running, never ran or died of a signal.
func (n *Node) ExitCode() int {
	n.mu.Lock()
	p := n.proc
	n.mu.Unlock()
	if p == nil || !p.exited() || p.state == nil {
		return -1
	}
	return p.state.ExitCode()
}

// PID is the node's current process id, or 0.
func (n *Node) PID() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil {
		return 0
	}
	return n.proc.cmd.Process.Pid
}

// Running reports whether the node's process is alive.
func (n *Node) Running() bool {
	n.mu.Lock()
	p := n.proc
	n.mu.Unlock()
	return p != nil && !p.exited()
}

// URL returns the admin API URL of path (which starts with "/").
func (n *Node) URL(path string) string { return "http://" + n.AdminAddr + path }

// spawn starts a process for the node's config. The caller holds no lock.
func (n *Node) spawn() (*process, error) {
	bin, env, err := Binary()
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc != nil && !n.proc.exited() {
		return nil, fmt.Errorf("start %s: already running (pid %d)", n.Site, n.proc.cmd.Process.Pid)
	}
	logf, err := os.OpenFile(n.LogPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", n.Site, err)
	}
	defer logf.Close() // the child holds its own descriptor
	n.starts++
	fmt.Fprintf(logf, "=== fedtest: start %d of %s (quic %s, admin %s) at %s ===\n",
		n.starts, n.Site, n.QUICAddr, n.AdminAddr, time.Now().UTC().Format(time.RFC3339Nano))
	cmd := exec.Command(bin, "serve", "--config", n.ConfigPath)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", n.Site, err)
	}
	p := &process{cmd: cmd, started: time.Now(), done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		p.state = cmd.ProcessState
		close(p.done)
	}()
	n.proc = p
	return p, nil
}

// waitReady waits until the admin API answers or the process exits.
func (n *Node) waitReady(p *process, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if p.exited() {
			tail := n.logTail(4096)
			if strings.Contains(tail, "address already in use") {
				return fmt.Errorf("%s exited at start: %w", n.Site, errPortInUse)
			}
			return fmt.Errorf("%s exited at start (%v); log ends:\n%s", n.Site, p.err, tail)
		}
		if _, err := n.Status(); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: admin API at %s not up after %v", n.Site, n.AdminAddr, timeout)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// signal sends sig to the current process; it returns the process, or nil
// if none is running.
func (n *Node) signal(sig syscall.Signal) (*process, error) {
	n.mu.Lock()
	p := n.proc
	n.mu.Unlock()
	if p == nil || p.exited() {
		return nil, nil
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return p, fmt.Errorf("signal %s to %s: %w", sig, n.Site, err)
	}
	return p, nil
}

// Kill SIGKILLs the node's process, if running, and waits for it to exit.
func (n *Node) Kill() error {
	p, err := n.signal(syscall.SIGKILL)
	if err != nil || p == nil {
		return err
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("kill %s: pid %d did not exit", n.Site, p.cmd.Process.Pid)
	}
}

// StopResult describes a SIGTERM shutdown.
type StopResult struct {
	// ExitCode is the process's exit code (-1 if it died of a signal).
	ExitCode int
	// Took is the time from SIGTERM to exit.
	Took time.Duration
}

// stop sends SIGTERM and waits up to timeout; then it SIGKILLs the process
// and reports an error.
func (n *Node) stop(timeout time.Duration) (StopResult, error) {
	start := time.Now()
	p, err := n.signal(syscall.SIGTERM)
	if err != nil {
		return StopResult{}, err
	}
	if p == nil {
		return StopResult{}, fmt.Errorf("stop %s: not running", n.Site)
	}
	select {
	case <-p.done:
		return StopResult{ExitCode: p.state.ExitCode(), Took: time.Since(start)}, nil
	case <-time.After(timeout):
		_ = n.Kill()
		return StopResult{ExitCode: -1, Took: time.Since(start)},
			fmt.Errorf("stop %s: no exit within %v of SIGTERM; killed", n.Site, timeout)
	}
}

// Status fetches GET /v1/status.
func (n *Node) Status() (admin.Status, error) {
	var st admin.Status
	err := n.do(http.MethodGet, "/v1/status", nil, &st)
	return st, err
}

// SetSetting sets a federation-wide setting through this node's admin API
// (PUT /v1/settings/{key}): one raft log entry. It fails with an *APIError
// of status 421 if the node is not the leader.
func (n *Node) SetSetting(key, value string) error {
	return n.do(http.MethodPut, "/v1/settings/"+key, map[string]string{"value": value}, nil)
}

// RemoveMember removes a site (DELETE /v1/members/{site}); leader only.
func (n *Node) RemoveMember(site string) error {
	return n.do(http.MethodDelete, "/v1/members/"+site, nil, nil)
}

// InviteSite allows a new site (POST /v1/sites); leader only.
func (n *Node) InviteSite(site string) error {
	return n.do(http.MethodPost, "/v1/sites", map[string]string{"site": site}, nil)
}

// Metrics fetches GET /metrics (Prometheus text format).
func (n *Node) Metrics() (string, error) {
	resp, err := n.c.http.Get(n.URL("/metrics"))
	if err != nil {
		return "", fmt.Errorf("%s: metrics: %w", n.Site, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("%s: metrics: %w", n.Site, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", &APIError{Site: n.Site, Code: resp.StatusCode, Msg: string(b)}
	}
	return string(b), nil
}

// APIError is a non-2xx answer of the admin API.
type APIError struct {
	Site string
	Code int
	Msg  string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s: admin API: %d %s: %s", e.Site, e.Code, http.StatusText(e.Code), strings.TrimSpace(e.Msg))
}

// IsNotLeader reports whether err is the admin API's "not the leader" (421).
func IsNotLeader(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Code == http.StatusMisdirectedRequest
}

func (n *Node) do(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, n.URL(path), rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := n.c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %s %s: %w", n.Site, method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s: %s %s: %w", n.Site, method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		msg := string(b)
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return &APIError{Site: n.Site, Code: resp.StatusCode, Msg: msg}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s: %s %s: decode: %w", n.Site, method, path, err)
		}
	}
	return nil
}

// requestTimeout bounds one admin API request. A raft apply may take up to
// the daemon's 10 s apply timeout.
const requestTimeout = 15 * time.Second

// Log returns the node's whole log file (all starts).
func (n *Node) Log() string {
	b, _ := os.ReadFile(n.LogPath)
	return string(b)
}

// LogOffset is the log file's current size: pass it to WaitLog to look only
// at lines written from now on.
func (n *Node) LogOffset() int64 {
	fi, err := os.Stat(n.LogPath)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// LogSince returns the log written after offset.
func (n *Node) LogSince(offset int64) string {
	b, _ := os.ReadFile(n.LogPath)
	if offset > int64(len(b)) {
		return ""
	}
	return string(b[offset:])
}

// FindLog returns the first line after offset matching re, or "".
func (n *Node) FindLog(offset int64, re *regexp.Regexp) string {
	for line := range strings.Lines(n.LogSince(offset)) {
		if re.MatchString(line) {
			return strings.TrimRight(line, "\n")
		}
	}
	return ""
}

// WaitLog waits until a line after offset matches re and returns it.
func (n *Node) WaitLog(offset int64, re *regexp.Regexp, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		if l := n.FindLog(offset, re); l != "" {
			return l, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%s: no log line matching %q within %v", n.Site, re, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (n *Node) logTail(max int) string {
	b, _ := os.ReadFile(n.LogPath)
	if len(b) > max {
		b = b[len(b)-max:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
		return "[...]\n" + string(b)
	}
	return string(b)
}

func (n *Node) String() string { return n.Site }

// files are the paths of a node's directory.
func nodeFiles(dir string) (config, log, data, cert, key string) {
	return filepath.Join(dir, "node.yaml"), filepath.Join(dir, "node.log"), filepath.Join(dir, "data"),
		filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
}
