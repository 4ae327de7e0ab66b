package emulator

import (
	"net/http"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Fault is an injected failure for requests that match it.
type Fault struct {
	// Method and PathContains select requests; empty matches all.
	Method       string
	PathContains string
	// Status answers with this HTTP status as a v1 Status (0: no status fault).
	Status int
	// RetryAfter sets Retry-After (seconds) and details.retryAfterSeconds.
	RetryAfter int
	// Delay holds the request before answering (or before passing it on when Status is 0).
	Delay time.Duration
	// Drop closes the connection without an answer.
	Drop bool
	// Times limits how often the fault fires; 0 means always.
	Times int

	fired int
}

// Inject adds a fault; faults are tried in the order they were added. A
// Fault belongs to one emulator (its count is kept under that emulator's
// lock): give each emulator its own.
func (e *Emulator) Inject(f *Fault) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = append(e.faults, f)
}

// ClearFaults removes every fault.
func (e *Emulator) ClearFaults() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = nil
}

// Fired reports how often f has fired.
func (e *Emulator) Fired(f *Fault) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return f.fired
}

// fault applies the first matching fault; true means the request was answered.
func (e *Emulator) fault(w http.ResponseWriter, r *http.Request) bool {
	e.mu.Lock()
	var f *Fault
	for _, c := range e.faults {
		if (c.Method == "" || c.Method == r.Method) && strings.Contains(r.URL.Path, c.PathContains) &&
			(c.Times == 0 || c.fired < c.Times) {
			f = c
			f.fired++
			break
		}
	}
	e.mu.Unlock()
	if f == nil {
		return false
	}
	if f.Delay > 0 {
		select {
		case <-time.After(f.Delay):
		case <-r.Context().Done():
			return true
		}
	}
	switch {
	case f.Drop:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return true
			}
		}
		panic(http.ErrAbortHandler)
	case f.Status != 0:
		var err error
		switch f.Status {
		case http.StatusTooManyRequests:
			err = apierrors.NewTooManyRequests("injected: too many requests", f.RetryAfter)
		case http.StatusConflict:
			err = apierrors.NewConflict(schema.GroupResource{Group: group, Resource: "imagestreams"}, "injected", errConflict)
		case http.StatusForbidden:
			err = apierrors.NewForbidden(schema.GroupResource{Group: group, Resource: "imagestreammappings"}, "injected", errForbidden)
		default:
			err = apierrors.NewGenericServerResponse(f.Status, r.Method, schema.GroupResource{Group: group}, "", "injected fault", f.RetryAfter, true)
		}
		writeError(w, err)
		return true
	}
	return false
}

type simpleErr string

func (s simpleErr) Error() string { return string(s) }

const (
	errConflict  = simpleErr("the object has been modified; please apply your changes to the latest version and try again")
	errForbidden = simpleErr("injected: forbidden")
)
