package sender

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/distribution/distribution/v3/notifications"
)

// BenchmarkDecodeDistribution compares the lean decoder with decoding into
// distribution's own notifications.Envelope the way the bridge did before
// (a json.Decoder, then a check for trailing data).
func BenchmarkDecodeDistribution(b *testing.B) {
	batch := `{"events":[` + strings.TrimSuffix(strings.Repeat(strings.TrimSuffix(strings.TrimPrefix(distPush, `{"events":[`), `]}`)+",", 100), ",") + `]}`
	for _, body := range []struct{ name, body string }{{"1event", distPush}, {"100events", batch}} {
		in := []byte(body.body)
		b.Run(body.name+"/lean", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				if _, err := Decode(Distribution, in); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(body.name+"/notifications.Envelope", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				dec := json.NewDecoder(bytes.NewReader(in))
				var env notifications.Envelope
				if err := dec.Decode(&env); err != nil {
					b.Fatal(err)
				}
				if _, err := dec.Token(); !errors.Is(err, io.EOF) {
					b.Fatal("trailing data")
				}
			}
		})
	}
}
