package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/insightpulse/pulsehub/services/dispatcher/graph"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobs"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobstate"
	"github.com/insightpulse/pulsehub/services/hub/hubconfig"
	"github.com/nats-io/nats.go/jetstream"
)

// jobsCmd is queue_job's job list on the dispatcher's `jobs` bucket.
func jobsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const usage = "hub jobs ls [--state S] [--service X] [--graph ID] [--limit N] | show ID | requeue ID|GRAPH | cancel ID|GRAPH | enqueue SERVICE TASK JOB_JSON | enqueue --graph FILE"
	sub, code, ok := subcommand("hub jobs", usage, args, stdout, stderr)
	if !ok {
		return code
	}
	o := newOpsFlags("hub jobs "+sub, usage, stdout, stderr)
	state := o.String("state", "", "ls: only jobs in this state (pending, scheduled, started, done, failed, dead, wait_dependencies, cancelled)")
	graphArg := o.String("graph", "", "ls: only the nodes of this job graph; enqueue: a job graph's JSON file (- for standard input)")
	svc := o.String("service", "", "ls: only jobs of this service")
	limit := o.Int("limit", 100, "ls: at most this many, newest first (0 = all)")
	pos, code, ok := o.parse(args[1:])
	if !ok {
		return code
	}
	var fn func(context.Context, hubconfig.Config, jetstream.JetStream) error
	switch {
	case sub == "ls" && len(pos) == 0:
		fn = func(ctx context.Context, _ hubconfig.Config, js jetstream.JetStream) error {
			list, err := jobs.List(ctx, js, jobstate.Filter{State: jobstate.State(*state), Service: *svc, Graph: *graphArg, Limit: *limit})
			if errors.Is(err, jetstream.ErrBucketNotFound) {
				list, err = nil, nil
				if !*o.json {
					fmt.Fprintln(stdout, "no jobs: the dispatcher has not created its jobs bucket yet (is it running?)")
					return nil
				}
			}
			if err != nil || *o.json {
				return errors.Join(err, jsonIf(*o.json, stdout, list))
			}
			return printJobs(stdout, list)
		}
	case sub == "show" && len(pos) == 1:
		fn = func(ctx context.Context, _ hubconfig.Config, js jetstream.JetStream) error {
			return showJob(ctx, js, pos[0], *o.json, stdout)
		}
	case sub == "cancel" && len(pos) == 1:
		fn = func(ctx context.Context, _ hubconfig.Config, js jetstream.JetStream) error {
			c, err := graph.Cancel(ctx, js, pos[0])
			if err != nil || *o.json {
				return errors.Join(err, jsonIf(*o.json, stdout, c))
			}
			if c.Graph != "" {
				fmt.Fprintf(stdout, "cancelled graph %s: %d unfinished nodes marked cancelled\n", c.Graph, len(c.Jobs))
			} else {
				fmt.Fprintf(stdout, "cancelled job %s\n", pos[0])
			}
			return nil
		}
	case sub == "enqueue" && len(pos) == 0 && *graphArg != "":
		data, err := readGraphFile(*graphArg, os.Stdin)
		if err != nil {
			return o.fail("%v", err)
		}
		fn = func(ctx context.Context, cfg hubconfig.Config, js jetstream.JetStream) error {
			return enqueueGraph(ctx, cfg, js, data, *o.json, stdout)
		}
	case sub == "requeue" && len(pos) == 1:
		fn = func(ctx context.Context, _ hubconfig.Config, js jetstream.JetStream) error {
			r, err := jobs.Requeue(ctx, js, pos[0])
			if errors.Is(err, jobstate.ErrNotFound) {
				return requeueGraph(ctx, js, pos[0], *o.json, stdout, err)
			}
			if err != nil || *o.json {
				return errors.Join(err, jsonIf(*o.json, stdout, r))
			}
			fmt.Fprintf(stdout, "requeued job %s on %s (JOBS seq %d)\n", r.ID, r.Subject, r.Seq)
			return nil
		}
	case sub == "enqueue" && len(pos) == 3:
		job, err := jobs.Parse([]byte(pos[2]))
		if err != nil {
			return o.fail("%v", err)
		}
		fn = func(ctx context.Context, _ hubconfig.Config, js jetstream.JetStream) error {
			c, err := jobs.NewClient(ctx, js)
			if err != nil {
				return err
			}
			e, err := c.Enqueue(ctx, pos[0], pos[1], job)
			if err != nil || *o.json {
				return errors.Join(err, jsonIf(*o.json, stdout, e))
			}
			switch {
			case e.Duplicate:
				fmt.Fprintf(stdout, "not enqueued: a job with identity_key %q is already known (job %s)\n", job.IdentityKey, e.ID)
			case !e.ETA.IsZero():
				fmt.Fprintf(stdout, "scheduled job %s on %s for %s\n", e.ID, e.Subject, humanTime(e.ETA))
			default:
				fmt.Fprintf(stdout, "enqueued job %s on %s (JOBS seq %d)\n", e.ID, e.Subject, e.Seq)
			}
			return nil
		}
	default:
		return o.fail("unknown subcommand %q or wrong number of arguments", sub)
	}
	return opsCmd(ctx, o, stderr, fn)
}

// showJob prints a job's record, and the drawing of its graph when it is
// a node of one; a graph's id prints the graph.
func showJob(ctx context.Context, js jetstream.JetStream, id string, asJSON bool, stdout io.Writer) error {
	rec, err := jobs.Get(ctx, js, id)
	if errors.Is(err, jobstate.ErrNotFound) {
		v, gerr := graph.Load(ctx, js, id)
		if errors.Is(gerr, graph.ErrNotFound) {
			return fmt.Errorf("no job or job graph %q (hub jobs ls lists them; finished jobs expire after dispatcher.job_retention)", id)
		}
		if gerr != nil || asJSON {
			return errors.Join(gerr, jsonIf(asJSON, stdout, v))
		}
		_, err := io.WriteString(stdout, v.Draw())
		return err
	}
	if err != nil {
		return err
	}
	if err := printJSON(stdout, rec); err != nil || rec.Graph == "" || asJSON {
		return err
	}
	v, err := graph.Load(ctx, js, rec.Graph)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	_, err = io.WriteString(stdout, v.Draw())
	return err
}

// requeueGraph resumes graph id (its dead nodes), or returns notJob when
// id is no graph either.
func requeueGraph(ctx context.Context, js jetstream.JetStream, id string, asJSON bool, stdout io.Writer, notJob error) error {
	r, err := graph.Requeue(ctx, js, id)
	if errors.Is(err, graph.ErrNotFound) || errors.Is(err, jetstream.ErrBucketNotFound) {
		return notJob
	}
	if err != nil || asJSON {
		return errors.Join(err, jsonIf(asJSON, stdout, r))
	}
	fmt.Fprintf(stdout, "graph %s: %d dead nodes requeued, %d that could not start waiting again\n", id, len(r.Requeued), len(r.Reset))
	return nil
}

// maxGraphFile bounds what `hub jobs enqueue --graph` reads: more than a
// graph message may hold (nats-server's max_payload, 1 MiB by default).
const maxGraphFile = 4 << 20

func readGraphFile(name string, in io.Reader) ([]byte, error) {
	var r io.Reader = in
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxGraphFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxGraphFile {
		return nil, fmt.Errorf("%s: more than %d bytes", name, maxGraphFile)
	}
	if _, err := jobs.ParseGraph(data, jobs.GraphLimits{MaxNodes: 100_000}); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return data, nil
}

// enqueueGraph checks the graph against the config's services and
// max_nodes (when the config names services) and enqueues it.
func enqueueGraph(ctx context.Context, cfg hubconfig.Config, js jetstream.JetStream, data []byte, asJSON bool, stdout io.Writer) error {
	lim := jobs.GraphLimits{MaxNodes: cfg.Dispatcher.Graphs.MaxNodes}
	if len(cfg.Dispatcher.Services) > 0 {
		lim.Services = func(s string) bool { _, ok := cfg.Dispatcher.Services[s]; return ok }
	}
	var b jobs.GraphBody
	if err := json.Unmarshal(data, &b); err != nil {
		return err
	}
	e, err := jobs.EnqueueGraph(ctx, js, b.Graph, lim)
	if err != nil || asJSON {
		return errors.Join(err, jsonIf(asJSON, stdout, e))
	}
	if e.Duplicate {
		fmt.Fprintf(stdout, "not enqueued: a graph with identity_key %q is already known (graph %s)\n", b.Graph.IdentityKey, e.ID)
		return nil
	}
	fmt.Fprintf(stdout, "enqueued graph %s of %d nodes on %s (JOBS seq %d); hub jobs show %s draws it\n", e.ID, e.Nodes, e.Subject, e.Seq, e.ID)
	return nil
}

func printJobs(w io.Writer, list []jobstate.Record) error {
	if len(list) == 0 {
		fmt.Fprintln(w, "no jobs")
		return nil
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSERVICE\tTASK\tSTATE\tATTEMPTS\tUPDATED\tDESCRIPTION / LAST ERROR")
	for _, r := range list {
		text := r.Description
		if r.LastError != "" {
			text = r.LastError
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.ID, r.Service, r.Task, r.State, r.Attempts, humanTime(r.UpdatedAt), oneLine(text, 70))
	}
	return tw.Flush()
}
