package natstest

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
)

// Cluster is n JetStream servers on loopback routed to each other.
type Cluster struct {
	tb      testing.TB
	Name    string
	Servers []*server.Server // nil while a node is stopped
	opts    []*server.Options
	links   [][]*link // links[i][j]: node i's route to node j (nil for i == j)
}

// RunCluster starts a JetStream cluster of n nodes (n ≥ 3 for R3 streams)
// named name, waits for a meta leader that sees every node online (else
// creating an R3 stream can fail with "no suitable peers for placement"),
// and shuts it down with the test. Every route goes through a link of
// its own (see link), so Kill can cut a node off abruptly.
func RunCluster(tb testing.TB, name string, n int) *Cluster {
	tb.Helper()
	c := &Cluster{tb: tb, Name: name, Servers: make([]*server.Server, n), opts: make([]*server.Options, n), links: make([][]*link, n)}
	tb.Cleanup(c.cutLinks) // after the nodes' shutdown (cleanups run last first)
	clusterPorts := make([]int, n)
	for i := range clusterPorts {
		clusterPorts[i] = FreePort(tb)
	}
	for i := range c.links {
		c.links[i] = make([]*link, n)
		for j := range n {
			if i != j {
				c.links[i][j] = newLink(tb, fmt.Sprintf("127.0.0.1:%d", clusterPorts[j]))
			}
		}
	}
	// Routes gossiped between nodes would bypass the links: each node
	// advertises a port nobody listens on (an implicit route to it fails
	// and is not retried), and dials its peers through its own links.
	nowhere := FreePort(tb)
	for i := 0; i < n; i++ {
		o := Options(tb.TempDir())
		o.ServerName = fmt.Sprintf("%s-%d", name, i+1)
		o.Port = FreePort(tb) // fixed, so a restarted node keeps its address
		o.Cluster = server.ClusterOpts{Name: name, Host: "127.0.0.1", Port: clusterPorts[i],
			Advertise: fmt.Sprintf("127.0.0.1:%d", nowhere)}
		for j, l := range c.links[i] {
			if j != i {
				u, _ := url.Parse(fmt.Sprintf("nats-route://127.0.0.1:%d", l.port))
				o.Routes = append(o.Routes, u)
			}
		}
		c.opts[i] = o
	}
	for i := range c.opts {
		c.Servers[i] = Start(tb, c.opts[i])
	}
	tb.Cleanup(c.Shutdown)
	c.WaitForMetaLeader()
	WaitFor(tb, Wait, "every node online for the meta leader", func() bool {
		for _, s := range c.Servers {
			if s != nil && len(s.JetStreamClusterPeers()) == n {
				return true
			}
		}
		return false
	})
	return c
}

// URLs is the comma-separated client URL list of every node.
func (c *Cluster) URLs() string {
	var out []string
	for _, o := range c.opts {
		out = append(out, fmt.Sprintf("nats://127.0.0.1:%d", o.Port))
	}
	return strings.Join(out, ",")
}

// Shutdown stops every running node.
func (c *Cluster) Shutdown() {
	for i, s := range c.Servers {
		Shutdown(s)
		c.Servers[i] = nil
	}
}

// Stop stops node i (keeping its store, so Restart brings it back).
func (c *Cluster) Stop(i int) {
	Shutdown(c.Servers[i])
	c.Servers[i] = nil
}

// Kill stops node i the way kill -9 does: its routes are cut first, so
// its peers hear nothing more from it (no Raft step-down reaches them:
// they elect new leaders after their election timeout, 4-9s, as on a
// real cluster), then it is shut down, which closes its clients'
// connections. Its store is kept; Restart brings it back.
func (c *Cluster) Kill(i int) {
	for j := range c.links {
		if j != i {
			c.links[i][j].cut()
			c.links[j][i].cut()
		}
	}
	c.Stop(i)
}

// Restart starts node i again with its old store and ports (and mends
// its routes if it was killed).
func (c *Cluster) Restart(i int) {
	c.tb.Helper()
	if c.Servers[i] != nil {
		c.tb.Fatalf("natstest: node %d is running", i)
	}
	for j := range c.links {
		if j == i {
			continue
		}
		for _, l := range []*link{c.links[i][j], c.links[j][i]} {
			l.mu.Lock()
			cut := l.ln == nil
			l.mu.Unlock()
			if cut {
				if err := l.mend(); err != nil {
					c.tb.Fatalf("natstest: mend route link: %v", err)
				}
			}
		}
	}
	o := c.opts[i].Clone()
	c.Servers[i] = Start(c.tb, o)
}

func (c *Cluster) cutLinks() {
	for _, ls := range c.links {
		for _, l := range ls {
			if l != nil {
				l.cut()
			}
		}
	}
}

// WaitForMetaLeader waits until one running node is the JetStream meta leader.
func (c *Cluster) WaitForMetaLeader() *server.Server {
	c.tb.Helper()
	var leader *server.Server
	WaitFor(c.tb, Wait, "a JetStream meta leader", func() bool {
		for _, s := range c.Servers {
			if s != nil && s.JetStreamIsLeader() {
				leader = s
				return true
			}
		}
		return false
	})
	return leader
}

// StreamLeader waits for and returns the index of the node leading stream
// in the global account.
func (c *Cluster) StreamLeader(stream string) int {
	c.tb.Helper()
	idx := -1
	WaitFor(c.tb, Wait, "a leader for stream "+stream, func() bool {
		for i, s := range c.Servers {
			if s != nil && s.JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, stream) {
				idx = i
				return true
			}
		}
		return false
	})
	return idx
}

// WaitForStreamCurrent waits until every running node's replica of stream
// has caught up.
func (c *Cluster) WaitForStreamCurrent(stream string) {
	c.tb.Helper()
	WaitFor(c.tb, Wait, "stream "+stream+" current on every node", func() bool {
		for _, s := range c.Servers {
			if s != nil && !s.JetStreamIsStreamCurrent(server.DEFAULT_GLOBAL_ACCOUNT, stream) {
				return false
			}
		}
		return true
	})
}
