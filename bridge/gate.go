package bridge

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// gate pauses the lanes of a cluster whose API server fails for server-side
// reasons (Outcome.clusterDown: no answer, 5xx, 408, a timeout): while it is
// down none of its jobs is handed to a worker, so none of them fetches from a
// registry or retries against the server. One probe (Probe, the image API's
// discovery document) runs on a capped exponential backoff until the server
// answers; then the lanes resume. Each change is logged once. Other clusters
// are unaffected: their lanes are other fairness groups.
type gate struct {
	log     *slog.Logger
	pause   func(paused bool, groups ...string)
	groups  map[string][]string // the fairness groups of each cluster
	initial time.Duration
	max     time.Duration

	mu     sync.Mutex
	ctx    context.Context
	cancel context.CancelFunc
	down   map[string]bool
	wg     sync.WaitGroup
}

// start sets the context the probes run under (the bridge's run).
func (g *gate) start(ctx context.Context) {
	g.mu.Lock()
	g.ctx, g.cancel = context.WithCancel(ctx)
	g.mu.Unlock()
}

// stop ends the probes and waits for them.
func (g *gate) stop() {
	g.mu.Lock()
	if g.cancel != nil {
		g.cancel()
	}
	g.mu.Unlock()
	g.wg.Wait()
}

// failed records that cl's API server failed for server-side reasons: the
// first time, it pauses cl's lanes and starts probing.
func (g *gate) failed(cl *target, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	name := cl.cfg.Name
	if g.down[name] || g.ctx == nil || g.ctx.Err() != nil {
		return
	}
	g.down[name] = true
	g.pause(true, g.groups[name]...)
	g.log.Warn("cluster API server failing: its lanes are paused until a probe answers", "cluster", name, "error", errString(err))
	g.wg.Add(1)
	go g.probe(g.ctx, cl)
}

// probe asks cl's server on a backoff until it answers, then resumes its lanes.
func (g *gate) probe(ctx context.Context, cl *target) {
	defer g.wg.Done()
	d := g.initial
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := cl.api.Probe(ctx)
		if ctx.Err() != nil {
			return
		}
		if !classify(inStage(StageAPI, err)).clusterDown() {
			break
		}
		d = min(2*d, g.max)
		t.Reset(d)
	}
	g.mu.Lock()
	g.down[cl.cfg.Name] = false
	g.pause(false, g.groups[cl.cfg.Name]...)
	g.mu.Unlock()
	g.log.Info("cluster API server answers again: its lanes resume", "cluster", cl.cfg.Name)
}
