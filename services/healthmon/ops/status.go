// Package ops is what the hub's operator commands do, as a library the
// CLI, the operator console (services/healthmon/console) and the
// end-to-end tests share: the status of streams, routes and services;
// replaying past events into one route; listing, showing, requeueing and
// purging dead letters. It works against any NATS (the embedded server or
// a cluster) through JetStream's API.
package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/insightpulse/pulsehub/events/stream"
	"github.com/insightpulse/pulsehub/events/wire"
	"github.com/nats-io/nats.go/jetstream"
)

// StreamInfo is one stream's size and time span.
type StreamInfo struct {
	Name      string    `json:"name"`
	Subjects  []string  `json:"subjects"`
	Msgs      uint64    `json:"messages"`
	Bytes     uint64    `json:"bytes"`
	First     time.Time `json:"first"`
	Last      time.Time `json:"last"`
	Consumers int       `json:"consumers"`
	Replicas  int       `json:"replicas"`
}

// ServiceHealth is one service's /health answer.
type ServiceHealth struct {
	Name   string `json:"name"`
	URL    string `json:"url"`
	Status string `json:"status"` // ok, fail, unreachable
	Detail string `json:"detail,omitempty"`
}

// Status is `hub status`.
type Status struct {
	Streams  []StreamInfo       `json:"streams"`
	Routes   []stream.RouteInfo `json:"routes"`
	Services []ServiceHealth    `json:"services"`
}

// GetStatus reads the streams and routes from JetStream and asks each
// service (name → base URL) for its /health.
func GetStatus(ctx context.Context, js jetstream.JetStream, services map[string]string) (Status, error) {
	var st Status
	for _, name := range stream.Names() {
		s, err := js.Stream(ctx, name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			continue
		}
		if err != nil {
			return st, fmt.Errorf("stream %s: %w", name, err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			return st, fmt.Errorf("stream %s: %w", name, err)
		}
		st.Streams = append(st.Streams, StreamInfo{Name: name, Subjects: info.Config.Subjects, Msgs: info.State.Msgs,
			Bytes: info.State.Bytes, First: info.State.FirstTime, Last: info.State.LastTime,
			Consumers: info.State.Consumers, Replicas: info.Config.Replicas})
	}
	routes, err := stream.Routes(ctx, js)
	if err != nil {
		return st, err
	}
	st.Routes = routes
	st.Services = checkServices(ctx, services)
	return st, nil
}

func checkServices(ctx context.Context, services map[string]string) []ServiceHealth {
	out := make([]ServiceHealth, 0, len(services))
	var mu sync.Mutex
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 3 * time.Second}
	for name, base := range services {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := probe(ctx, client, name, base)
			mu.Lock()
			out = append(out, h)
			mu.Unlock()
		}()
	}
	wg.Wait()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func probe(ctx context.Context, client *http.Client, name, base string) ServiceHealth {
	h := ServiceHealth{Name: name, URL: base + "/health", Status: "unreachable"}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.URL, nil)
	if err != nil {
		h.Detail = err.Error()
		return h
	}
	resp, err := client.Do(req)
	if err != nil {
		h.Detail = err.Error()
		return h
	}
	defer resp.Body.Close()
	var body wire.Health // the health monitor's own answer shares its status
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = json.Unmarshal(b, &body)
	h.Status = body.Status
	if h.Status == "" {
		h.Status = wire.HealthFail
	}
	if resp.StatusCode != http.StatusOK {
		h.Status, h.Detail = wire.HealthFail, fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	return h
}
