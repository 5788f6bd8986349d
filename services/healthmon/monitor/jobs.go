package monitor

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/insightpulse/pulsehub/services/healthmon/probe"
	"github.com/insightpulse/pulsehub/services/healthmon/status"
)

// job is one probe on its own schedule. Each job runs in its own
// goroutine, so a target that hangs holds up only its own next probe.
type job struct {
	probe    probe.Probe
	interval time.Duration
	timeout  time.Duration
	fixed    []targetID      // targets known before the first probe (shown as unknown until then)
	owned    map[string]bool // targets the last successful check produced
	lastErr  string          // the last listing error, logged once
}

type targetID struct{ name, kind string }

// buildJobs makes the probes the config describes: NATS and the routes
// when there is a JetStream, each Odoo instance, each of the hub's own
// services (with the dispatcher's breakers and the ingester's reconciler),
// and each HTTP target.
func (m *Monitor) buildJobs() []*job {
	c, lat := m.cfg, m.cfg.latency()
	var jobs []*job
	add := func(p probe.Probe, interval, timeout time.Duration, fixed ...targetID) {
		jobs = append(jobs, &job{probe: p, interval: orDuration(interval, c.Interval), timeout: orDuration(timeout, c.Timeout), fixed: fixed})
	}
	if m.deps.JS != nil {
		add(&probe.NATS{Conn: m.deps.Conn, JS: m.deps.JS, Latency: lat, Clock: m.clock}, 0, 0, targetID{probe.TargetNATS, probe.KindNATS})
		add(&probe.Routes{JS: m.deps.JS, Thresholds: c.Routes, Advisories: m.advisories, Clock: m.clock}, 0, 0)
	}
	for _, name := range sortedKeys(c.Odoo) {
		t := probe.TargetName("odoo", name)
		add(&probe.Odoo{Target: t, Config: c.Odoo[name], Latency: lat, Client: m.client, Clock: m.clock}, 0, 0, targetID{t, probe.KindOdoo})
	}
	for _, name := range sortedKeys(c.Services) {
		base := strings.TrimRight(c.Services[name], "/")
		t := probe.TargetName("service", name)
		add(&probe.HTTP{Target: t, Kind: probe.KindService, URL: base + "/health", Latency: lat, Client: m.client, Clock: m.clock},
			0, 0, targetID{t, probe.KindService})
		switch name {
		case "dispatcher":
			add(&probe.Breakers{URL: base, Client: m.client, Clock: m.clock}, 0, 0)
		case "ingester":
			add(&probe.Reconciler{URL: base, Thresholds: c.Reconciler, Client: m.client, Clock: m.clock, JS: m.deps.JS}, 0, 0)
		}
	}
	for _, name := range sortedKeys(c.HTTPTargets) {
		h := c.HTTPTargets[name]
		t := probe.TargetName("http", name)
		hl := status.Latency{Warning: orDuration(h.LatencyWarning, lat.Warning), Critical: orDuration(h.LatencyCritical, lat.Critical)}
		add(&probe.HTTP{Target: t, URL: h.URL, ExpectStatus: h.ExpectStatus, Latency: hl, Client: m.client, Clock: m.clock},
			h.Interval, h.Timeout, targetID{t, probe.KindHTTP})
	}
	return jobs
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// loop probes at once, then every interval after the previous probe ended
// (a slow target is not probed twice at the same time), until ctx is done.
func (m *Monitor) loop(ctx context.Context, j *job) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m.runJob(ctx, j)
		t.Reset(j.interval)
	}
}

// runJob runs one probe with its own timeout and records its results.
// Results of a probe cut short by shutdown are dropped: they would say
// "down" about targets that are fine.
func (m *Monitor) runJob(ctx context.Context, j *job) {
	pctx, cancel := context.WithTimeout(ctx, j.timeout)
	results, err := j.probe.Check(pctx)
	cancel()
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		if msg := err.Error(); msg != j.lastErr {
			j.lastErr = msg
			m.log.Warn("probe could not list its targets; they keep their last status", "probe", j.probe.Name(), "error", msg)
		}
		m.metrics.errors.WithLabelValues("probe_" + j.probe.Name()).Inc()
		return
	}
	if j.lastErr != "" {
		m.log.Info("probe lists its targets again", "probe", j.probe.Name())
		j.lastErr = ""
	}
	seen := make(map[string]bool, len(results))
	for _, r := range results {
		seen[r.Target] = true
		m.record(ctx, r)
	}
	for name := range j.owned {
		if !seen[name] {
			m.remove(ctx, name)
		}
	}
	j.owned = seen
}
