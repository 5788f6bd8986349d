package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/insightpulse/pulsehub/services/dispatcher/jobs"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobstate"
	"github.com/insightpulse/pulsehub/services/hub/hubconfig"
	"github.com/nats-io/nats.go/jetstream"
)

// jobsCmd is queue_job's job list on the dispatcher's `jobs` bucket.
func jobsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const usage = "hub jobs ls [--state S] [--service X] [--limit N] | show ID | requeue ID | cancel ID | enqueue SERVICE TASK JOB_JSON"
	sub, code, ok := subcommand("hub jobs", usage, args, stdout, stderr)
	if !ok {
		return code
	}
	o := newOpsFlags("hub jobs "+sub, usage, stdout, stderr)
	state := o.String("state", "", "ls: only jobs in this state (pending, scheduled, started, done, failed, dead, cancelled)")
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
			list, err := jobs.List(ctx, js, jobstate.Filter{State: jobstate.State(*state), Service: *svc, Limit: *limit})
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
			rec, err := jobs.Get(ctx, js, pos[0])
			if errors.Is(err, jobstate.ErrNotFound) {
				return fmt.Errorf("no job %q (hub jobs ls lists them; finished jobs expire after dispatcher.job_retention)", pos[0])
			}
			if err != nil {
				return err
			}
			return printJSON(stdout, rec)
		}
	case sub == "requeue" && len(pos) == 1:
		fn = func(ctx context.Context, _ hubconfig.Config, js jetstream.JetStream) error {
			r, err := jobs.Requeue(ctx, js, pos[0])
			if err != nil || *o.json {
				return errors.Join(err, jsonIf(*o.json, stdout, r))
			}
			fmt.Fprintf(stdout, "requeued job %s on %s (JOBS seq %d)\n", r.ID, r.Subject, r.Seq)
			return nil
		}
	case sub == "cancel" && len(pos) == 1:
		fn = func(ctx context.Context, _ hubconfig.Config, js jetstream.JetStream) error {
			r, err := jobs.Cancel(ctx, js, pos[0])
			if err != nil || *o.json {
				return errors.Join(err, jsonIf(*o.json, stdout, r))
			}
			fmt.Fprintf(stdout, "cancelled job %s (%s %s): its message is acknowledged without a call\n", r.ID, r.Service, r.Task)
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
