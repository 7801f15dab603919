package manifests_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/yaml"

	"github.com/kuberunner/kuberunner/manifests"
	"github.com/kuberunner/kuberunner/metrics"
)

// TestPrometheusScrapesRunner runs a real Prometheus against the metrics of a runner that
// ran jobs, with rules.yaml loaded: every dashboard query must parse and return series,
// with the labels its legend shows, and every rule must evaluate healthily and, for a
// recording rule, produce series. It needs no cluster and takes a few seconds.
func TestPrometheusScrapesRunner(t *testing.T) {
	checkDashboardLive(t, needTool(t, "prometheus"), runJobs(t))
}

// checkDashboardLive serves reg's metrics to a real Prometheus and checks every dashboard
// query and rule against what it scraped.
func checkDashboardLive(t *testing.T, bin string, reg *prometheus.Registry) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- metrics.Serve(ctx, ln, metrics.Handler(reg, nil)) }()
	t.Cleanup(func() {
		stop()
		if err := <-served; err != nil {
			t.Errorf("metrics.Serve: %v", err)
		}
	})
	prom := startPrometheus(t, bin, ln.Addr().String())

	queries := dashboardQueries(t, map[string]string{"instance": ln.Addr().String(), "runner": liveRunner})
	rules := ruleNames(t)
	for _, rule := range rules {
		if rule.record {
			queries = append(queries, dashQuery{Where: "recording rule " + rule.name, Expr: rule.name})
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, q := range queries {
		series, err := prom.waitSeries(q.Expr, deadline)
		if err != nil {
			t.Errorf("%s: %v\n\t%s", q.Where, err, q.Expr)
			continue
		}
		for _, label := range q.Legend {
			for _, s := range series {
				if _, ok := s[label]; !ok {
					t.Errorf("%s: its legend shows {{%s}}, which series %v has not\n\t%s", q.Where, label, s, q.Expr)
				}
			}
		}
	}
	prom.checkRules(t, rules, deadline)
}

// promServer is a Prometheus process started by the test.
type promServer struct {
	url string
	log *bytes.Buffer
}

// startPrometheus runs Prometheus in a temporary directory, scraping target every second
// and evaluating rules.yaml every second, and stops it when the test ends. Prometheus
// cannot listen on port 0, so it gets a port that was free a moment ago.
func startPrometheus(t *testing.T, bin, target string) *promServer {
	t.Helper()
	dir := t.TempDir()
	rules, err := filepath.Abs(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`{"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
"rule_files": [%q],
"scrape_configs": [{"job_name": "kuberunner", "static_configs": [{"targets": [%q]}]}]}`, rules, target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	p := &promServer{url: "http://" + addr, log: &bytes.Buffer{}}
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("prometheus log:\n%s", p.log)
		}
	})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(p.url + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-exited:
			t.Fatalf("prometheus exited:\n%s", p.log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready at %s within 20s", p.url)
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// apiGet fetches a Prometheus API path and decodes the data of a success answer into v.
// An error answer (a query that does not parse: bad_data) is returned as an error.
func (p *promServer) apiGet(path string, params url.Values, v any) error {
	resp, err := http.Get(p.url + path + "?" + params.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		Status, ErrorType, Error string
		Data                     json.RawMessage
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("%s: %s: %w", path, resp.Status, err)
	}
	if body.Status != "success" {
		return fmt.Errorf("%s: %s: %s", body.ErrorType, resp.Status, body.Error)
	}
	return json.Unmarshal(body.Data, v)
}

// waitSeries evaluates expr until it returns a series or the deadline passes: a rate
// needs two scrapes, a recording rule one evaluation. A query Prometheus refuses fails at
// once. It returns the series' labels.
func (p *promServer) waitSeries(expr string, deadline time.Time) ([]map[string]string, error) {
	for {
		var data struct {
			Result []struct{ Metric map[string]string }
		}
		if err := p.apiGet("/api/v1/query", url.Values{"query": {expr}}, &data); err != nil {
			return nil, err
		}
		if len(data.Result) > 0 {
			var out []map[string]string
			for _, r := range data.Result {
				out = append(out, r.Metric)
			}
			return out, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no series")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type ruleName struct {
	name   string
	record bool
}

// ruleNames lists rules.yaml's rules in order.
func ruleNames(t *testing.T) []ruleName {
	t.Helper()
	data, err := manifests.FS.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []struct{ Record, Alert string }
		}
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	var out []ruleName
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			out = append(out, ruleName{r.Record + r.Alert, r.Record != ""})
		}
	}
	return out
}

// checkRules waits until Prometheus has evaluated every rule of want, and reports those
// missing or not healthy.
func (p *promServer) checkRules(t *testing.T, want []ruleName, deadline time.Time) {
	t.Helper()
	for {
		var data struct {
			Groups []struct {
				Rules []struct{ Name, Health, LastError string }
			}
		}
		if err := p.apiGet("/api/v1/rules", nil, &data); err != nil {
			t.Fatalf("rules: %v", err)
		}
		var problems []string
		health := map[string]string{}
		for _, g := range data.Groups {
			for _, r := range g.Rules {
				health[r.Name] = r.Health + " " + r.LastError
			}
		}
		for _, r := range want {
			if h := health[r.name]; h != "ok " {
				problems = append(problems, fmt.Sprintf("rule %s: health %s", r.name, strconv.Quote(h)))
			}
		}
		if len(problems) == 0 {
			return
		}
		if time.Now().After(deadline) {
			slices.Sort(problems)
			for _, p := range problems {
				t.Error(p)
			}
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}
