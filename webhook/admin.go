package webhook

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// AdminHandler serves /admin/failed, /admin/replay and /admin/drop. It is
// never mounted on the webhook listener: a same-pod proxy (a service-mesh
// sidecar) makes every request there look local. The caller serves it on the
// Unix socket adminSocket, whose file mode is the access control.
func (s *Server) AdminHandler() http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.httpErrorHandler
	e.GET("/admin/failed", s.adminFailed)
	e.POST("/admin/replay", s.adminSelect("replay", "replayed", s.domain.Replay))
	e.POST("/admin/drop", s.adminSelect("drop", "dropped", s.domain.Drop))
	return e
}

// FailedEvent is one entry of the answer of /admin/failed, {"failed": [...]}:
// an event that failed for good, with why. It is the admin endpoint's view of
// the domain's failed job (bridge.FailedJob), whose JSON it repeats field for
// field, so that the webhook never reaches the domain (package app converts,
// and its tests hold the two to the same JSON).
type FailedEvent struct {
	// Seq is the handle /admin/replay and /admin/drop select by.
	Seq        uint64    `json:"seq"`
	ID         string    `json:"id"`
	Registry   string    `json:"registry"`
	Repository string    `json:"repository"`
	Namespace  string    `json:"namespace"`
	Stream     string    `json:"stream"`
	Tag        string    `json:"tag"`
	Digest     string    `json:"digest"`
	PushedAt   time.Time `json:"pushedAt"`
	Source     string    `json:"source"`
	Cluster    string    `json:"cluster,omitempty"`
	Action     string    `json:"action,omitempty"`
	Verify     bool      `json:"verify,omitempty"`
	// Reason is the failure reason, one of the bridge's closed set.
	Reason   string    `json:"reason"`
	Message  string    `json:"message"`
	FailedAt time.Time `json:"failedAt"`
}

// Selection picks failed events by sequence number; empty means all.
type Selection struct {
	Seqs []uint64 `json:"seqs"`
}

func (s *Server) adminFailed(c echo.Context) error {
	list, err := s.domain.Failed()
	if err != nil {
		return err
	}
	if list == nil {
		list = []FailedEvent{} // [], never null
	}
	return c.JSON(http.StatusOK, map[string][]FailedEvent{"failed": list})
}

// adminSelect answers {done: n} after applying act to the selected failed events.
func (s *Server) adminSelect(verb, done string, act func([]uint64) (int, error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		var sel Selection
		if c.Request().ContentLength != 0 {
			if err := c.Bind(&sel); err != nil {
				return newError(KindMalformed, "decode %s request: %v", verb, err)
			}
		}
		n, err := act(sel.Seqs)
		if err != nil {
			return err
		}
		s.log.Info("failed events "+done, "count", n)
		return c.JSON(http.StatusOK, map[string]int{done: n})
	}
}
