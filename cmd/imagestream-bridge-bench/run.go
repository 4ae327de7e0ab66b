package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/distribution/distribution/v3/notifications"

	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
)

// result is one measured run.
type result struct {
	kind     string // "bridge" or "floor"
	workload string
	c        int
	journal  string
	events   int
	// elapsedAck is until the last acknowledgement; elapsedMap until the last mapping arrived.
	elapsedAck, elapsedMap time.Duration
	ack, p2m               []time.Duration
	// ackSend is the acknowledgement latency from when the accepted POST was sent
	// (paced runs: ack counts from when the event was due, which includes sender lag).
	ackSend []time.Duration
	// serverAck is the p99 bucket of the bridge's own ack_duration_seconds histogram.
	serverAck           string
	rejected, failed    int
	firstErr            string
	cpu                 time.Duration
	mallocs, allocBytes uint64
	peakRSS, hwm        uint64
	peakAnon            uint64 // largest sampled RssAnon
	sendRate            float64
	// foreign is the share of the machine other processes used during the run.
	foreign float64
	err     error
}

func (r *result) ackRate() float64 { return rate(r.events, r.elapsedAck) }
func (r *result) mapRate() float64 { return rate(r.events, r.elapsedMap) }

func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func (r *result) cpuPer1000() float64 {
	if r.events == 0 {
		return 0
	}
	return r.cpu.Seconds() * 1000 / float64(r.events)
}

func (r *result) allocsPer() float64 {
	if r.events == 0 {
		return 0
	}
	return float64(r.mallocs) / float64(r.events)
}

// sampler polls the target's RSS every 100ms and keeps the maximum.
type sampler struct {
	stopc chan struct{}
	done  chan [2]uint64
	anon  uint64
}

func startSampler(t target) *sampler {
	s := &sampler{stopc: make(chan struct{}), done: make(chan [2]uint64, 1)}
	go func() {
		var peak, anon uint64
		tk := time.NewTicker(100 * time.Millisecond)
		defer tk.Stop()
		for {
			if st, err := t.stats(false, true); err == nil {
				peak = max(peak, st.VmRSS)
				anon = max(anon, st.RssAnon)
			}
			select {
			case <-s.stopc:
				s.done <- [2]uint64{peak, anon}
				return
			case <-tk.C:
			}
		}
	}()
	return s
}

// stop returns the largest sampled VmRSS; s.anon then holds the largest RssAnon.
func (s *sampler) stop() uint64 {
	close(s.stopc)
	v := <-s.done
	s.anon = v[1]
	return v[0]
}

// poster sends envelopes to the bridge's webhook. Without keep-alive every
// POST opens a new connection, as distribution's http sink does (it closes
// idle connections after each event).
type poster struct {
	url    string
	client *http.Client
}

func newPoster(base string, keepalive bool, conns int) *poster {
	tr := &http.Transport{DisableKeepAlives: !keepalive, MaxIdleConnsPerHost: conns, IdleConnTimeout: 90 * time.Second}
	return &poster{url: base + "/notifications/" + registryName, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

func (p *poster) post(body []byte) (int, time.Duration, error) {
	req, err := http.NewRequest(http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", notifications.EventsMediaType)
	req.Header.Set("Authorization", "Bearer "+webhookToken)
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	var ra time.Duration
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
		ra = time.Duration(s) * time.Second
	}
	return resp.StatusCode, ra, nil
}

func (p *poster) close() { p.client.Transport.(*http.Transport).CloseIdleConnections() }

// sendOutcome collects what senders saw.
type sendOutcome struct {
	mu       sync.Mutex
	ack      []time.Duration
	ackSend  []time.Duration
	rejected int
	failed   int
	firstErr string
	last     time.Time
}

func (o *sendOutcome) add(ack []time.Duration, rejected, failed int, firstErr string, last time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ack = append(o.ack, ack...)
	o.rejected += rejected
	o.failed += failed
	if o.firstErr == "" {
		o.firstErr = firstErr
	}
	if last.After(o.last) {
		o.last = last
	}
}

// deliver sends one event until the bridge accepts it, retrying 503 after
// Retry-After (at most 1s) like the registry's retrying sink. It returns the
// latency of the accepting answer measured from from (zero: from this send).
func deliver(ctx context.Context, p *poster, ev *event, from time.Time) (ack, fromSend time.Duration, rejected int, err error) {
	ev.stamp(time.Now())
	for {
		sent := time.Now()
		t0 := from
		if t0.IsZero() {
			t0 = sent
		}
		code, ra, err := p.post(ev.body)
		now := time.Now()
		switch {
		case err != nil:
			return 0, 0, rejected, err
		case code == http.StatusAccepted || code == http.StatusOK:
			return now.Sub(t0), now.Sub(sent), rejected, nil
		case code == http.StatusServiceUnavailable || code == http.StatusTooManyRequests:
			rejected++
			select {
			case <-ctx.Done():
				return 0, 0, rejected, ctx.Err()
			case <-time.After(min(max(ra, 50*time.Millisecond), time.Second)):
			}
		default:
			return 0, 0, rejected, fmt.Errorf("webhook answered %d", code)
		}
	}
}

// sendClosed runs c senders, each posting its next event as soon as the
// previous one is answered.
func sendClosed(ctx context.Context, base string, evs []*event, c int, keepalive bool) *sendOutcome {
	out := &sendOutcome{}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := newPoster(base, keepalive, 2)
			defer p.close()
			var acks []time.Duration
			var rejected, failed int
			var firstErr string
			var last time.Time
			for {
				i := int(next.Add(1) - 1)
				if i >= len(evs) || ctx.Err() != nil {
					break
				}
				ack, _, rej, err := deliver(ctx, p, evs[i], time.Time{})
				rejected += rej
				if err != nil {
					failed++
					if firstErr == "" {
						firstErr = err.Error()
					}
					continue
				}
				acks = append(acks, ack)
				last = time.Now()
			}
			out.add(acks, rejected, failed, firstErr, last)
		}()
	}
	wg.Wait()
	return out
}

// sendPaced is an open-loop sender: event i is due at start + i/rate whether
// or not earlier ones were answered, and its acknowledgement latency counts
// from when it was due, so a stalled answer is not hidden by a stalled sender.
func sendPaced(ctx context.Context, base string, evs []*event, perSec float64, keepalive bool) (*sendOutcome, float64) {
	out := &sendOutcome{}
	p := newPoster(base, keepalive, 64)
	defer p.close()
	interval := time.Duration(float64(time.Second) / perSec)
	start := time.Now()
	var wg sync.WaitGroup
	for i, ev := range evs {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ack, fromSend, rej, err := deliver(ctx, p, ev, due)
			if err != nil {
				out.add(nil, rej, 1, err.Error(), time.Time{})
				return
			}
			out.mu.Lock()
			out.ackSend = append(out.ackSend, fromSend)
			out.mu.Unlock()
			out.add([]time.Duration{ack}, rej, 0, "", time.Now())
		}()
	}
	sendSpan := time.Since(start)
	wg.Wait()
	return out, rate(len(evs), sendSpan)
}

// drive sends evs to the bridge t, waits until the emulator has received a
// mapping for each, and measures the run.
func drive(ctx context.Context, t target, api *sandbox.API, evs []*event, c int, perSec float64, keepalive bool, others ...*sandbox.API) result {
	r := result{events: len(evs), c: c}
	apis := append([]*sandbox.API{api}, others...)
	bases := make([]int64, len(apis))
	for i, a := range apis {
		bases[i] = a.MappingCount.Load()
	}
	s0, err := t.stats(false, false)
	if err != nil {
		r.err = err
		return r
	}
	hist0, _ := ackBuckets(t.url())
	smp := startSampler(t)
	fm := startForeign()
	start := time.Now()
	var out *sendOutcome
	if perSec > 0 {
		out, r.sendRate = sendPaced(ctx, t.url(), evs, perSec, keepalive)
	} else {
		out = sendClosed(ctx, t.url(), evs, c, keepalive)
	}
	deadline := time.Now().Add(2*time.Minute + time.Duration(len(evs))*20*time.Millisecond)
	for i, a := range apis { // every cluster gets every mapping
		want := bases[i] + int64(len(evs)-out.failed)
		for a.MappingCount.Load() < want && r.err == nil {
			if time.Now().After(deadline) || ctx.Err() != nil {
				r.err = fmt.Errorf("only %d of %d mappings arrived in cluster %d", a.MappingCount.Load()-bases[i], len(evs), i)
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	s1, err := t.stats(false, false)
	r.peakRSS = smp.stop()
	r.peakAnon = max(smp.anon, s1.RssAnon)
	if hist1, err := ackBuckets(t.url()); err == nil && hist0 != nil {
		r.serverAck = serverAckP99(hist0, hist1)
	}
	if err != nil {
		r.err = err
		return r
	}
	r.cpu = s1.CPU - s0.CPU
	if _, ok := t.(*child); ok {
		r.foreign = fm.share(r.cpu)
	} else {
		r.foreign = fm.share(0)
	}
	r.mallocs = s1.Mallocs - s0.Mallocs
	r.allocBytes = s1.TotalAlloc - s0.TotalAlloc
	r.hwm = s1.VmHWM
	r.peakRSS = max(r.peakRSS, s1.VmRSS)
	r.ack, r.ackSend, r.rejected, r.failed, r.firstErr = out.ack, out.ackSend, out.rejected, out.failed, out.firstErr
	r.elapsedAck = out.last.Sub(start)

	var last time.Time
	for _, a := range apis { // push→mapping of each tag in each cluster
		sent := make(map[string]time.Time, len(evs))
		for _, ev := range evs {
			sent[ev.tag] = ev.sent
		}
		for _, m := range a.Mappings() {
			ts, ok := sent[m.Tag]
			if !ok {
				continue
			}
			delete(sent, m.Tag) // the first mapping of a tag counts
			r.p2m = append(r.p2m, m.Received.Sub(ts))
			if m.Received.After(last) {
				last = m.Received
			}
		}
	}
	r.elapsedMap = last.Sub(start)
	if r.failed > 0 && r.err == nil {
		r.err = fmt.Errorf("%d events not accepted: %s", r.failed, r.firstErr)
	}
	return r
}

// manifestAccept is what a client that maps images asks for.
const manifestAccept = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"

// floor does the bridge's HTTP work and nothing else, with c workers sharing a
// keep-alive pooled client: GET the manifest, GET the config blob (its digest
// known in advance), POST a prebuilt ImageStreamMapping. No parsing, hashing,
// journal, queue or mapping building.
func floor(ctx context.Context, f *fixture, api *sandbox.API, evs []*event, c int) result {
	r := result{kind: "floor", events: len(evs), c: c, journal: "-"}
	bodies := map[int]mappingBody{}
	posts := make([][]byte, len(evs))
	for i, ev := range evs {
		mb, ok := bodies[ev.img]
		if !ok {
			var err error
			if mb, err = f.mappingBody(ev.img); err != nil {
				r.err = err
				return r
			}
			bodies[ev.img] = mb
		}
		posts[i] = mb.with(ev.tag)
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: 4*c + 8, MaxIdleConnsPerHost: 2*c + 4, IdleConnTimeout: 90 * time.Second,
	}}
	defer client.CloseIdleConnections()
	mappingsURL := api.URL + "/apis/image.openshift.io/v1/namespaces/" + namespace + "/imagestreammappings"

	s0 := readProcStats(false, false)
	smp := startSampler(&inProcess{})
	fm := startForeign()
	start := time.Now()
	out := &sendOutcome{}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			var failed int
			var firstErr string
			for {
				i := int(next.Add(1) - 1)
				if i >= len(evs) || ctx.Err() != nil {
					break
				}
				im := &f.images[evs[i].img]
				t0 := time.Now()
				evs[i].sent = t0
				err := floorOne(client, f.reg.URL, mappingsURL, im, posts[i])
				if err != nil {
					failed++
					if firstErr == "" {
						firstErr = err.Error()
					}
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			out.add(lat, 0, failed, firstErr, time.Now())
		}()
	}
	wg.Wait()
	r.elapsedAck = time.Since(start)
	r.elapsedMap = r.elapsedAck
	r.foreign = fm.share(0)
	s1 := readProcStats(false, false)
	r.peakRSS = max(smp.stop(), s1.VmRSS)
	r.cpu = s1.CPU - s0.CPU
	r.mallocs = s1.Mallocs - s0.Mallocs
	r.allocBytes = s1.TotalAlloc - s0.TotalAlloc
	r.hwm = s1.VmHWM
	r.p2m, r.failed, r.firstErr = out.ack, out.failed, out.firstErr
	if r.failed > 0 {
		r.err = fmt.Errorf("%d floor events failed: %s", r.failed, r.firstErr)
	}
	return r
}

func floorOne(client *http.Client, registryURL, mappingsURL string, im *image, body []byte) error {
	if err := get(client, registryURL+"/v2/"+im.repo+"/manifests/"+im.digest, manifestAccept); err != nil {
		return err
	}
	if err := get(client, registryURL+"/v2/"+im.repo+"/blobs/"+im.configDigest, ""); err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, mappingsURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, */*")
	req.Header.Set("Authorization", "Bearer emulator")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("POST mapping: %d", resp.StatusCode)
	}
	return nil
}

func get(client *http.Client, url, accept string) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d", url, resp.StatusCode)
	}
	return nil
}

// ackBuckets reads the bridge's own imagestream_bridge_ack_duration_seconds
// histogram (cumulative count per upper bound) from its /metrics.
func ackBuckets(base string) (map[float64]float64, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	out := map[float64]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, "imagestream_bridge_ack_duration_seconds_bucket{") || !strings.Contains(line, `registry="`+registryName+`"`) {
			continue
		}
		_, rest, ok := strings.Cut(line, `le="`)
		if !ok {
			continue
		}
		le, rest, ok := strings.Cut(rest, `"`)
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		bound, err1 := strconv.ParseFloat(le, 64)
		n, err2 := strconv.ParseFloat(f[len(f)-1], 64)
		if err1 == nil && err2 == nil {
			out[bound] = n
		}
	}
	return out, nil
}

// serverAckP99 is the upper bound of the histogram bucket that holds the
// 99th percentile of the answers between two scrapes ("≤ X ms").
func serverAckP99(before, after map[float64]float64) string {
	bounds := make([]float64, 0, len(after))
	for b := range after {
		bounds = append(bounds, b)
	}
	slices.Sort(bounds)
	total := after[math.Inf(1)] - before[math.Inf(1)]
	if total <= 0 {
		return "-"
	}
	for _, b := range bounds {
		if after[b]-before[b] >= 0.99*total {
			if math.IsInf(b, 1) {
				return "> 1 s"
			}
			return "≤ " + fmtDur(time.Duration(b*float64(time.Second)))
		}
	}
	return "-"
}
