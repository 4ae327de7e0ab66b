package webhook

import (
	"net/http"

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

// Selection picks failed events by sequence number; empty means all.
type Selection struct {
	Seqs []uint64 `json:"seqs"`
}

func (s *Server) adminFailed(c echo.Context) error {
	list, err := s.domain.Failed()
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"failed": list})
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
