package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/strata-fed/strata/federated/fsm"
	"github.com/strata-fed/strata/federated/securesum"
)

// APIError is an error response of the admin API.
type APIError struct {
	Status int
	ErrorBody
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s (HTTP %d, %s)", e.ErrorBody.Error, e.Status, e.Code)
}

// Client calls the secure-sum endpoints of a federation's admin APIs. Leader
// only requests go to each of Addrs in turn until the leader answers; a
// round aborted by a leader change is redone transparently with a new round.
type Client struct {
	// Addrs are admin API base URLs ("http://127.0.0.1:7480") of one or
	// more nodes. Required.
	Addrs []string
	// HTTP defaults to a client without timeout (requests carry ctx).
	HTTP *http.Client
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// do sends one request to base and decodes a 200 answer into out.
func (c *Client) do(ctx context.Context, method, base, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(base, "/")+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		e := &APIError{Status: resp.StatusCode}
		if json.Unmarshal(b, &e.ErrorBody) != nil || e.Code == "" {
			e.ErrorBody = ErrorBody{Error: strings.TrimSpace(string(b)), Code: "internal"}
		}
		return e
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

// retryable reports whether a leader-only request should go elsewhere or
// be retried: not the leader, no leader yet, node unreachable, round
// aborted by a leader change.
func retryable(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Code == "not_leader" || ae.Code == "round_aborted" || ae.Code == "leader_changed"
	}
	return err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// leader sends a leader-only request, trying every address (and again,
// with backoff) until one answers other than "not the leader" or ctx ends.
func (c *Client) leader(ctx context.Context, method, path string, in, out any) error {
	if len(c.Addrs) == 0 {
		return errors.New("admin client: no addresses")
	}
	backoff := 100 * time.Millisecond
	var last error
	for {
		for _, a := range c.Addrs {
			last = c.do(ctx, method, a, path, in, out)
			if !retryable(last) {
				return last
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last answer: %w)", ctx.Err(), last)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// SecureSum runs a secure sum and returns its result. Each try is a new
// round: a round aborted by a leader change is refunded by the log if no
// decryption share could exist, and is never counted.
func (c *Client) SecureSum(ctx context.Context, spec securesum.Spec, timeout time.Duration) (securesum.Result, error) {
	var res securesum.Result
	req := SumRequest{Spec: spec}
	if timeout > 0 {
		req.Timeout = timeout.String()
	}
	err := c.leader(ctx, http.MethodPost, "/v1/rounds", req, &res)
	return res, err
}

// StartKeySetup runs a t-of-N key set-up.
func (c *Client) StartKeySetup(ctx context.Context, threshold int, params string) (securesum.KeyInfo, error) {
	var k securesum.KeyInfo
	err := c.leader(ctx, http.MethodPost, "/v1/keys", map[string]any{"threshold": threshold, "he_params": params}, &k)
	return k, err
}

// SetBudget creates a dataset's ledger.
func (c *Client) SetBudget(ctx context.Context, dataset string, epsilon, delta float64) (fsm.Budget, error) {
	var b fsm.Budget
	err := c.leader(ctx, http.MethodPost, "/v1/budgets", map[string]any{"dataset": dataset, "epsilon": epsilon, "delta": delta}, &b)
	return b, err
}

// SetStatistic sets a local statistic on the node at Addrs[0] only
// (statistics are private to their site), bound to the dataset it is
// computed from ("" = name): the node contributes it only to rounds charged
// to that dataset's ledger.
func (c *Client) SetStatistic(ctx context.Context, name, dataset string, values []int64) error {
	if len(c.Addrs) == 0 {
		return errors.New("admin client: no addresses")
	}
	body := map[string]any{"values": values}
	if dataset != "" {
		body["dataset"] = dataset
	}
	return c.do(ctx, http.MethodPut, c.Addrs[0], "/v1/stats/"+name, body, nil)
}

// Round fetches a round from Addrs[0].
func (c *Client) Round(ctx context.Context, id string) (securesum.Result, error) {
	var res securesum.Result
	if len(c.Addrs) == 0 {
		return res, errors.New("admin client: no addresses")
	}
	err := c.do(ctx, http.MethodGet, c.Addrs[0], "/v1/rounds/"+id, nil, &res)
	return res, err
}
