package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
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
	journal  string // the bridge's event log
	events   int
	// elapsedAck is until the last acknowledgement; elapsedMap until the last mapping arrived.
	elapsedAck, elapsedMap time.Duration
	// ack counts from when the event was due (paced) or sent (closed loop),
	// ackSend from the accepted POST: the difference is the sender's lag.
	ack, ackSend, p2m   []time.Duration
	rejected, failed    int
	cpu                 time.Duration
	mallocs, allocBytes uint64
	peakRSS, hwm        uint64
	peakAnon            uint64 // largest sampled RssAnon
	sendRate            float64
	foreign             float64 // share of the machine other processes used during the run
	err                 error
}

func (r *result) ackRate() float64    { return perSecond(r.events, r.elapsedAck) }
func (r *result) mapRate() float64    { return perSecond(r.events, r.elapsedMap) }
func (r *result) cpuPer1000() float64 { return r.cpu.Seconds() * 1000 / float64(max(r.events, 1)) }
func (r *result) allocsPer() float64  { return float64(r.mallocs) / float64(max(r.events, 1)) }

func perSecond(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// recorder collects what the senders saw into r.
type recorder struct {
	mu   sync.Mutex
	r    *result
	last time.Time
}

func (o *recorder) add(ack, ackSend time.Duration, rejected int, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.r.rejected += rejected
	if err != nil {
		o.r.failed++
		o.r.err = cmp.Or(o.r.err, err)
		return
	}
	o.r.ack, o.r.ackSend, o.last = append(o.r.ack, ack), append(o.r.ackSend, ackSend), time.Now()
}

// call sends one request (header: name, value, ...), reads the answer to its
// end and returns its status and Retry-After.
func call(ctx context.Context, cl *http.Client, method, url string, body []byte, header ...string) (int, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := cl.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	return resp.StatusCode, time.Duration(ra) * time.Second, err
}

// deliver sends one event until the bridge accepts it, retrying a 503 after
// its Retry-After (at most 1 s) like the registry's retrying sink. ack counts
// from due (zero: from the accepted POST), fromSend from the accepted POST.
func deliver(ctx context.Context, cl *http.Client, url string, ev *event, due time.Time) (ack, fromSend time.Duration, rejected int, err error) {
	ev.stamp(time.Now())
	for {
		sent := time.Now()
		code, ra, err := call(ctx, cl, http.MethodPost, url, ev.body,
			"Content-Type", notifications.EventsMediaType, "Authorization", "Bearer "+webhookToken)
		switch {
		case err != nil:
			return 0, 0, rejected, err
		case code == http.StatusAccepted || code == http.StatusOK:
			return time.Since(cmp.Or(due, sent)), time.Since(sent), rejected, nil
		case code != http.StatusServiceUnavailable && code != http.StatusTooManyRequests:
			return 0, 0, rejected, fmt.Errorf("webhook answered %d", code)
		}
		rejected++
		select {
		case <-ctx.Done():
			return 0, 0, rejected, ctx.Err()
		case <-time.After(min(max(ra, 50*time.Millisecond), time.Second)):
		}
	}
}

// closedLoop runs c workers w, each taking the next index i as soon as its
// previous one is done.
func closedLoop(ctx context.Context, n, c int, work func(w, i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range c {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n && ctx.Err() == nil; i = int(next.Add(1) - 1) {
				work(w, i)
			}
		})
	}
	wg.Wait()
}

// send posts evs to the webhook at base: from c closed-loop senders, or
// (perSec > 0) open loop, event i due at start + i/perSec whether or not
// earlier ones were answered, its acknowledgement latency counted from when
// it was due, so a stalled answer is not hidden by a stalled sender. (A
// rate.Limiter would forget the slots a late sender missed, and hide it.)
// Without keep-alive every POST opens a new connection, as distribution's
// http sink does (it closes idle connections after each event).
func send(ctx context.Context, rec *recorder, base string, evs []*event, c int, perSec float64, keepalive bool) {
	url := base + "/notifications/" + registryName
	clients := make([]*http.Client, max(c, 1))
	for w := range clients {
		clients[w] = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			DisableKeepAlives: !keepalive, MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}}
		defer clients[w].CloseIdleConnections()
	}
	if perSec <= 0 {
		closedLoop(ctx, len(evs), c, func(w, i int) { rec.add(deliver(ctx, clients[w], url, evs[i], time.Time{})) })
		return
	}
	start := time.Now()
	var wg sync.WaitGroup
	for i, ev := range evs {
		due := start.Add(time.Duration(float64(i) / perSec * float64(time.Second)))
		time.Sleep(time.Until(due))
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() { rec.add(deliver(ctx, clients[0], url, ev, due)) })
	}
	rec.r.sendRate = perSecond(len(evs), time.Since(start))
	wg.Wait()
}

// measure runs work between two snapshots of the process st reads, sampling
// its RSS every 100 ms, and fills r's CPU, allocation, RSS and foreign-CPU
// fields; child says whether that process is our child (its CPU is then not
// foreign).
func measure(r *result, st func(gc, light bool) (procStats, error), child bool, work func()) {
	s0, err := st(false, false)
	if err != nil {
		r.err = err
		return
	}
	done, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		for tk := time.NewTicker(100 * time.Millisecond); ; {
			if s, err := st(false, true); err == nil {
				r.peakRSS, r.peakAnon = max(r.peakRSS, s.VmRSS), max(r.peakAnon, s.RssAnon)
			}
			select {
			case <-done:
				tk.Stop()
				return
			case <-tk.C:
			}
		}
	}()
	fm := startForeign()
	work()
	close(done)
	<-sampled
	s1, err := st(false, false)
	if err != nil {
		r.err = cmp.Or(r.err, err)
		return
	}
	r.cpu, r.mallocs, r.allocBytes = s1.CPU-s0.CPU, s1.Mallocs-s0.Mallocs, s1.TotalAlloc-s0.TotalAlloc
	r.peakRSS, r.peakAnon, r.hwm = max(r.peakRSS, s1.VmRSS), max(r.peakAnon, s1.RssAnon), s1.VmHWM
	r.foreign = fm.share(0)
	if child {
		r.foreign = fm.share(r.cpu)
	}
}

// drive sends evs to the bridge t, waits until every emulator in apis has a
// mapping for each, and measures the run.
func drive(ctx context.Context, t target, apis []*sandbox.API, evs []*event, c int, perSec float64, keepalive bool) result {
	r := result{events: len(evs), c: c}
	rec := &recorder{r: &r}
	bases := make([]int64, len(apis))
	for i, a := range apis {
		bases[i] = a.MappingCount.Load()
	}
	start := time.Now()
	_, isChild := t.(*child)
	measure(&r, t.stats, isChild, func() {
		send(ctx, rec, t.url(), evs, c, perSec, keepalive)
		deadline := time.Now().Add(2*time.Minute + time.Duration(len(evs))*20*time.Millisecond)
		for i, a := range apis {
			for want := bases[i] + int64(len(evs)-r.failed); a.MappingCount.Load() < want; time.Sleep(2 * time.Millisecond) {
				if time.Now().After(deadline) || ctx.Err() != nil {
					r.err = cmp.Or(r.err, fmt.Errorf("only %d of %d mappings arrived in cluster %d", a.MappingCount.Load()-bases[i], len(evs), i+1))
					return
				}
			}
		}
	})
	r.elapsedAck = rec.last.Sub(start)
	last := start
	for _, a := range apis { // push→mapping: the first mapping of each tag in each cluster
		sent := make(map[string]time.Time, len(evs))
		for _, ev := range evs {
			sent[ev.tag] = ev.sent
		}
		for _, m := range a.Mappings() {
			if ts, ok := sent[m.Tag]; ok {
				delete(sent, m.Tag)
				r.p2m = append(r.p2m, m.Received.Sub(ts))
				if m.Received.After(last) {
					last = m.Received
				}
			}
		}
	}
	r.elapsedMap = last.Sub(start)
	if r.failed > 0 {
		r.err = fmt.Errorf("%d events not accepted: %w", r.failed, r.err)
	}
	return r
}

// manifestAccept is what a client that maps images asks for.
const manifestAccept = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"

// floor does the bridge's HTTP work and nothing else, with c workers sharing
// a keep-alive pooled client: GET the manifest, GET the config blob (its
// digest known in advance), POST a prebuilt ImageStreamMapping. No parsing,
// hashing, event log, queue or mapping building.
func floor(ctx context.Context, f *fixture, api *sandbox.API, evs []*event, c int) result {
	r := result{kind: "floor", events: len(evs), c: c}
	bodies := map[int][]byte{}
	posts := make([][]byte, len(evs))
	for i, ev := range evs {
		if _, ok := bodies[ev.img]; !ok {
			var err error
			if bodies[ev.img], err = f.mappingBody(ev.img); err != nil {
				r.err = err
				return r
			}
		}
		posts[i] = bytes.Replace(bodies[ev.img], []byte(tagPlaceholder), strconv.AppendQuote(nil, ev.tag), 1)
	}
	cl := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: 4*c + 8, MaxIdleConnsPerHost: 2*c + 4, IdleConnTimeout: 90 * time.Second}}
	defer cl.CloseIdleConnections()
	mappings := api.URL + "/apis/image.openshift.io/v1/namespaces/" + namespace + "/imagestreammappings"
	expect := func(method, url string, body []byte, want int, header ...string) error {
		code, _, err := call(ctx, cl, method, url, body, header...)
		if err == nil && code != want {
			err = fmt.Errorf("%s %s: %d", method, url, code)
		}
		return err
	}
	rec := &recorder{r: &r}
	start := time.Now()
	self := func(gc, light bool) (procStats, error) { return readProcStats(gc, light), nil }
	measure(&r, self, false, func() {
		closedLoop(ctx, len(evs), c, func(_, i int) {
			im := &f.images[evs[i].img]
			t0 := time.Now()
			err := expect(http.MethodGet, f.reg.URL+"/v2/"+im.repo+"/manifests/"+im.manifest.Digest.String(), nil, http.StatusOK, "Accept", manifestAccept)
			if err == nil {
				err = expect(http.MethodGet, f.reg.URL+"/v2/"+im.repo+"/blobs/"+im.config.Digest.String(), nil, http.StatusOK)
			}
			if err == nil {
				err = expect(http.MethodPost, mappings, posts[i], http.StatusCreated,
					"Content-Type", "application/json", "Accept", "application/json, */*", "Authorization", "Bearer emulator")
			}
			rec.add(time.Since(t0), 0, 0, err)
		})
	})
	r.elapsedAck = time.Since(start)
	r.elapsedMap, r.p2m, r.ack, r.ackSend = r.elapsedAck, r.ack, nil, nil
	if r.failed > 0 {
		r.err = fmt.Errorf("%d floor events failed: %w", r.failed, r.err)
	}
	return r
}
