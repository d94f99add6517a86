package report

import (
	"bytes"
	"context"
	"errors"
	"net/http"
)

// Source returns the report to serve, or an error wrapping ErrNoReport when
// there is none yet. It is called once per request, possibly concurrently;
// the handler only reads the returned Report.
type Source func(ctx context.Context) (*Report, error)

// Handler serves GET (and HEAD) /report as HTML and /report.json as JSON.
// Mount it at the root of a mux, or under a prefix with http.StripPrefix.
// Responses: 404 for other paths, 405 for other methods, 503 when src
// reports ErrNoReport, 500 for other errors (the message is not echoed).
// Pages carry a Content-Security-Policy that forbids every external load.
func Handler(src Source) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var write func(*bytes.Buffer, *Report) error
		switch req.URL.Path {
		case "/report":
			write = func(b *bytes.Buffer, r *Report) error { return WriteHTML(b, r) }
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
		case "/report.json":
			write = func(b *bytes.Buffer, r *Report) error { return WriteJSON(b, r) }
			w.Header().Set("Content-Type", "application/json")
		default:
			http.NotFound(w, req)
			return
		}
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		h.Set("Referrer-Policy", "no-referrer")
		r, err := src(req.Context())
		var buf bytes.Buffer
		if err == nil {
			err = write(&buf, r)
		}
		switch {
		case errors.Is(err, ErrNoReport):
			h.Del("Content-Type")
			http.Error(w, "no report yet", http.StatusServiceUnavailable)
			return
		case err != nil:
			h.Del("Content-Type")
			http.Error(w, "report unavailable", http.StatusInternalServerError)
			return
		}
		if req.Method == http.MethodHead {
			return
		}
		w.Write(buf.Bytes())
	})
}
