package eventlog

import (
	"fmt"
	"log/slog"
)

// serverLog passes the embedded server's notices, warnings and errors to slog.
type serverLog struct{ log *slog.Logger }

func (s *serverLog) Noticef(format string, v ...any) {
	s.log.Debug("nats-server: " + fmt.Sprintf(format, v...))
}
func (s *serverLog) Warnf(format string, v ...any) {
	s.log.Warn("nats-server: " + fmt.Sprintf(format, v...))
}
func (s *serverLog) Fatalf(format string, v ...any) {
	s.log.Error("nats-server: " + fmt.Sprintf(format, v...))
}
func (s *serverLog) Errorf(format string, v ...any) {
	s.log.Error("nats-server: " + fmt.Sprintf(format, v...))
}
func (s *serverLog) Debugf(format string, v ...any) {}
func (s *serverLog) Tracef(format string, v ...any) {}
