package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/insightpulse/pulsehub/services/dispatcher/dispatch/dispatchbench"
)

// childEnv carries a child process's role: scenarios 9 and 10 run each
// peer and the no-op service in processes of their own (this program
// again), so that each one's CPU time and memory are its own.
const childEnv = "PULSEHUB_BENCH_CHILD"

// childArgs tell a child what to do.
type childArgs struct {
	Role      string `json:"role"` // "noop", "hub", "river", "floor" (scenario 9); "ingest-hub", "benthos", "ingest-floor" (scenario 10)
	URL       string `json:"url,omitempty"`
	Jobs      int    `json:"jobs,omitempty"`
	Tuned     bool   `json:"tuned,omitempty"`      // River: its benchmark's fetch settings
	DSN       string `json:"dsn,omitempty"`        // River: the database
	ServerPID int    `json:"server_pid,omitempty"` // River: the postmaster, whose CPU counts
	// CPUProfile is a file for the hub's CPU profile (pprof) of its measured run.
	CPUProfile string `json:"cpu_profile,omitempty"`
	// NATS and Listen tell a serving peer of scenario 10 where to publish
	// and where to take deliveries.
	NATS   string `json:"nats,omitempty"`
	Listen string `json:"listen,omitempty"`
}

// PeerRun is one measured round of a peer.
type PeerRun struct {
	Jobs      int           `json:"jobs"`
	Elapsed   time.Duration `json:"elapsed_ns"`
	PerSecond float64       `json:"per_second"`
	// CPUPerJob is the peer's process (the hub: dispatcher and its
	// in-process nats-server; River: its client) per job;
	// ServerCPUPerJob is PostgreSQL's processes' (River only).
	CPUPerJob       time.Duration `json:"cpu_per_job_ns"`
	ServerCPUPerJob time.Duration `json:"server_cpu_per_job_ns,omitempty"`
	RSS             uint64        `json:"peak_rss"`             // the peer's process, peak
	ServerMemory    uint64        `json:"server_pss,omitempty"` // PostgreSQL's processes' PSS at the end
	NoopCPUPerJob   time.Duration `json:"noop_cpu_per_job_ns"`  // the no-op service's, for reference
	Err             string        `json:"error,omitempty"`      // the round failed
}

// runChildIfAsked runs the child role named in the environment and exits;
// it returns at once when there is none.
func runChildIfAsked() {
	spec := os.Getenv(childEnv)
	if spec == "" {
		return
	}
	var a childArgs
	if err := json.Unmarshal([]byte(spec), &a); err != nil {
		fmt.Fprintf(os.Stderr, "bench child: %v\n", err)
		os.Exit(2)
	}
	if a.Role == peerHub || a.Role == peerBenthos || a.Role == peerFloor { // serves until signalled
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := runPeer(ctx, a)
		stop()
		os.Exit(code)
	}
	ctx := context.Background()
	var run PeerRun
	var err error
	switch a.Role {
	case "noop":
		err = serveNoop()
	case "hub":
		run, err = hubRun(ctx, a)
	case "river":
		run, err = riverRun(ctx, a)
	case "floor":
		run, err = floorRun(ctx, a)
	default:
		err = fmt.Errorf("unknown role %q", a.Role)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench child %s: %v\n", a.Role, err)
		os.Exit(1)
	}
	_ = json.NewEncoder(os.Stdout).Encode(run)
	os.Exit(0)
}

// hubRun is one dispatcher round in this (child) process, on an embedded
// JetStream of its own: dispatchbench.Jobs against the no-op service.
func hubRun(ctx context.Context, a childArgs) (PeerRun, error) {
	env, err := startNATS()
	if err != nil {
		return PeerRun{}, err
	}
	defer env.close()
	o := dispatchbench.Options{Jobs: a.Jobs, Capacity: 64}
	if a.CPUProfile != "" {
		f, err := os.Create(a.CPUProfile)
		if err != nil {
			return PeerRun{}, err
		}
		defer f.Close()
		o.CPUProfile = f
	}
	tp, err := dispatchbench.Jobs(ctx, env.deps, o, a.URL)
	if err != nil {
		return PeerRun{}, err
	}
	return PeerRun{Jobs: tp.N, Elapsed: tp.Elapsed, PerSecond: tp.PerSecond, CPUPerJob: tp.CPUPerOp, RSS: peakRSS(os.Getpid())}, nil
}

// serveNoop answers every request as dispatchbench's no-op service does,
// prints its URL, and serves until its standard input closes.
func serveNoop() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: dispatchbench.Noop, ReadHeaderTimeout: 10 * time.Second}
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); _ = srv.Close() }()
	fmt.Printf("http://%s\n", l.Addr())
	if err := srv.Serve(l); err != http.ErrServerClosed {
		return err
	}
	os.Exit(0)
	return nil
}

// noopService is the no-op service's process.
type noopService struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	url   string
}

func startNoop(ctx context.Context) (*noopService, error) {
	cmd, err := childCmd(ctx, childArgs{Role: "noop"})
	if err != nil {
		return nil, err
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = stdin.Close()
		_ = cmd.Wait()
		return nil, fmt.Errorf("no-op service did not start: %w", err)
	}
	return &noopService{cmd: cmd, stdin: stdin, url: strings.TrimSpace(line)}, nil
}

// cpu is the no-op service's CPU time so far.
func (n *noopService) cpu() time.Duration {
	return cpuTime(n.cmd.Process.Pid)
}

func (n *noopService) stop() {
	_ = n.stdin.Close()
	_ = n.cmd.Wait()
}

// runChild runs one peer round in a child process and returns what it measured.
func runChild(ctx context.Context, a childArgs) (PeerRun, error) {
	cmd, err := childCmd(ctx, a)
	if err != nil {
		return PeerRun{}, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return PeerRun{}, fmt.Errorf("%s round: %v\n%s", a.Role, err, stderr.String())
	}
	var r PeerRun
	if err := json.Unmarshal(out, &r); err != nil {
		return PeerRun{}, fmt.Errorf("%s round: %w: %q", a.Role, err, out)
	}
	return r, nil
}

func childCmd(ctx context.Context, a childArgs) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	spec, _ := json.Marshal(a)
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	return cmd, nil
}
