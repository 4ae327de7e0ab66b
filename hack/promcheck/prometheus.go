package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// prometheus is a Prometheus server started for the check, listening on loopback only.
type prometheus struct {
	URL    string
	cmd    *exec.Cmd
	exited chan error
	log    *bytes.Buffer
	client *http.Client
}

func startPrometheus(ctx context.Context, bin, dir, target, rulesFile string, logOut io.Writer) (*prometheus, error) {
	rules, err := filepath.Abs(rulesFile)
	if err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - %q
scrape_configs:
  - job_name: imagestream-bridge
    static_configs:
      - targets: [%q]
`, rules, target)
	cfgFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	p := &prometheus{URL: "http://" + addr, exited: make(chan error, 1), log: &bytes.Buffer{},
		client: &http.Client{Timeout: 5 * time.Second}}
	p.cmd = exec.Command(bin,
		"--config.file="+cfgFile,
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+addr,
		"--log.level=warn",
	)
	p.cmd.Dir = dir
	p.cmd.Stdout = io.MultiWriter(p.log, logOut)
	p.cmd.Stderr = io.MultiWriter(p.log, logOut)
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { p.exited <- p.cmd.Wait() }()

	ready, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		resp, err := p.client.Get(p.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		select {
		case err := <-p.exited:
			return nil, fmt.Errorf("prometheus exited (%v):\n%s", err, p.log)
		case <-ready.Done():
			p.Stop()
			return nil, fmt.Errorf("prometheus not ready after 30s:\n%s", p.log)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// freeLoopbackAddr returns 127.0.0.1:PORT with a port that was free a moment ago.
func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Stop ends Prometheus, with SIGKILL after 10s.
func (p *prometheus) Stop() {
	if p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	kill := time.AfterFunc(10*time.Second, func() { _ = p.cmd.Process.Kill() })
	defer kill.Stop()
	if err := <-p.exited; err != nil { // killed, or it failed on its way out
		fmt.Fprintf(p.log, "promcheck: prometheus stopped: %v\n", err)
	}
	p.exited <- nil // later calls return at once
}

// sample is one element of an instant query's result.
type sample struct {
	Metric map[string]string
	Value  float64
}

type apiResponse struct {
	Status    string          `json:"status"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Data      json.RawMessage `json:"data"`
}

// Query evaluates an instant query now. A PromQL error is returned as an error.
func (p *prometheus) Query(ctx context.Context, expr string) ([]sample, error) {
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := p.get(ctx, "/api/v1/query?"+url.Values{"query": {expr}}.Encode(), &data); err != nil {
		return nil, err
	}
	parse := func(v []any) (float64, error) {
		if len(v) != 2 {
			return 0, fmt.Errorf("bad sample %v", v)
		}
		s, _ := v[1].(string)
		return strconv.ParseFloat(s, 64) // handles NaN and ±Inf
	}
	switch data.ResultType {
	case "vector":
		var vec []struct {
			Metric map[string]string `json:"metric"`
			Value  []any             `json:"value"`
		}
		if err := json.Unmarshal(data.Result, &vec); err != nil {
			return nil, err
		}
		out := make([]sample, 0, len(vec))
		for _, s := range vec {
			f, err := parse(s.Value)
			if err != nil {
				return nil, err
			}
			out = append(out, sample{Metric: s.Metric, Value: f})
		}
		return out, nil
	case "scalar":
		var v []any
		if err := json.Unmarshal(data.Result, &v); err != nil {
			return nil, err
		}
		f, err := parse(v)
		if err != nil {
			return nil, err
		}
		return []sample{{Value: f}}, nil
	default:
		return nil, fmt.Errorf("unexpected result type %q", data.ResultType)
	}
}

// WaitFor polls expr until it returns a sample.
func (p *prometheus) WaitFor(ctx context.Context, expr string) error {
	for {
		res, err := p.Query(ctx, expr)
		if err == nil && len(res) > 0 {
			return nil
		}
		select {
		case err := <-p.exited:
			p.exited <- err
			return fmt.Errorf("prometheus exited:\n%s", p.log)
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", expr, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// rule is one rule of /api/v1/rules.
type rule struct {
	Name           string    `json:"name"`
	Query          string    `json:"query"`
	Health         string    `json:"health"`
	LastError      string    `json:"lastError"`
	LastEvaluation time.Time `json:"lastEvaluation"`
	Type           string    `json:"type"`
}

// Rules lists the loaded rules.
func (p *prometheus) Rules(ctx context.Context) ([]rule, error) {
	var data struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []rule `json:"rules"`
		} `json:"groups"`
	}
	if err := p.get(ctx, "/api/v1/rules", &data); err != nil {
		return nil, err
	}
	var out []rule
	for _, g := range data.Groups {
		out = append(out, g.Rules...)
	}
	return out, nil
}

func (p *prometheus) get(ctx context.Context, path string, data any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+path, nil)
	if err != nil {
		return err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var r apiResponse
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return fmt.Errorf("decode %s answer (HTTP %d): %w", path, resp.StatusCode, err)
	}
	if r.Status != "success" {
		return fmt.Errorf("%s: %s", r.ErrorType, r.Error)
	}
	return json.Unmarshal(r.Data, data)
}
