package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/insightpulse/pulsehub/services/healthmon/ops"
	"github.com/insightpulse/pulsehub/services/hub/hubconfig"
	"github.com/nats-io/nats.go/jetstream"
)

func statusCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := newOpsFlags("hub status", "hub status [--json] [--config FILE] [--nats-url URLS] [--data-dir DIR]", stdout, stderr)
	if pos, code, ok := o.parse(args); !ok {
		return code
	} else if len(pos) > 0 {
		return o.fail("unexpected argument %q", pos[0])
	}
	return opsCmd(ctx, o, stderr, func(ctx context.Context, c hubconfig.Config, js jetstream.JetStream) error {
		st, err := ops.GetStatus(ctx, js, c.ServiceURLs())
		if err != nil {
			return err
		}
		if *o.json {
			return printJSON(stdout, st)
		}
		printStatus(stdout, st)
		return nil
	})
}

func printStatus(w io.Writer, st ops.Status) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STREAM\tMESSAGES\tBYTES\tFIRST\tLAST\tCONSUMERS\tREPLICAS")
	for _, s := range st.Streams {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d\t%d\n", s.Name, s.Msgs, humanBytes(s.Bytes), humanTime(s.First), humanTime(s.Last), s.Consumers, s.Replicas)
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
	if len(st.Routes) == 0 {
		fmt.Fprintln(w, "no routes (add routes: to hub.yaml)")
	} else {
		tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ROUTE\tSTREAM\tPENDING\tACK PENDING\tREDELIVERED\tDLQ\tREPLAY")
		for _, r := range st.Routes {
			replay := "-"
			if r.Replaying {
				replay = fmt.Sprintf("%d left", r.ReplayLeft)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\n", r.Route, r.Stream, r.Pending, r.AckPending, r.Redelivered, r.DLQDepth, replay)
		}
		_ = tw.Flush()
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tHEALTH\tURL\tDETAIL")
	for _, s := range st.Services {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, s.Status, s.URL, oneLine(s.Detail, 60))
	}
	_ = tw.Flush()
}

func replayCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := newOpsFlags("hub replay", "hub replay ROUTE --since DURATION|--from-time T|--from-seq N [--subject FILTER] [--dry-run] [--json]", stdout, stderr)
	since := o.Duration("since", 0, "replay events stored in the last DURATION (e.g. 2h)")
	fromTime := o.String("from-time", "", "replay events stored at or after this time (RFC 3339, e.g. 2026-11-20T10:00:00Z)")
	fromSeq := o.Uint64("from-seq", 0, "replay events from this stream sequence")
	subject := o.String("subject", "", "only events on this subject filter (within the route's)")
	dryRun := o.Bool("dry-run", false, "print how many messages and which subjects would be delivered, deliver nothing")
	pos, code, ok := o.parse(args)
	if !ok {
		return code
	}
	req := ops.ReplayRequest{Since: *since, FromSeq: *fromSeq, Subject: *subject, DryRun: *dryRun}
	if len(pos) != 1 {
		return o.fail("want one ROUTE, got %d arguments", len(pos))
	}
	req.Route = pos[0]
	if *fromTime != "" {
		t, err := time.Parse(time.RFC3339, *fromTime)
		if err != nil {
			return o.fail("--from-time: %v (want RFC 3339, e.g. 2026-11-20T10:00:00Z)", err)
		}
		req.FromTime = t
	}
	if n := countSet(req.Since > 0, !req.FromTime.IsZero(), req.FromSeq > 0); n != 1 {
		return o.fail("give exactly one of --since, --from-time, --from-seq")
	}
	return opsCmd(ctx, o, stderr, func(ctx context.Context, _ hubconfig.Config, js jetstream.JetStream) error {
		plan, err := ops.Replay(ctx, js, req)
		if err != nil {
			return err
		}
		if *o.json {
			return printJSON(stdout, plan)
		}
		printPlan(stdout, plan)
		return nil
	})
}

func printPlan(w io.Writer, p ops.ReplayPlan) {
	switch {
	case p.Count == 0:
		fmt.Fprintf(w, "nothing to replay for route %s on %s from that point\n", p.Route, p.Stream)
		return
	case p.DryRun:
		fmt.Fprintf(w, "would replay %d messages of %s (sequences %d..%d) to route %s:\n", p.Count, p.Stream, p.StartSeq, p.EndSeq, p.Route)
	default:
		fmt.Fprintf(w, "replaying %d messages of %s (sequences %d..%d) to route %s only; its service picks them up from consumer %s\n",
			p.Count, p.Stream, p.StartSeq, p.EndSeq, p.Route, p.Consumer)
		fmt.Fprintf(w, "follow it with: hub status   (or: nats consumer info %s %s)\n", p.Stream, p.Consumer)
		return
	}
	subjects := make([]string, 0, len(p.Subjects))
	for s := range p.Subjects {
		subjects = append(subjects, s)
	}
	sort.Strings(subjects)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  SUBJECT\tMESSAGES")
	for _, s := range subjects {
		fmt.Fprintf(tw, "  %s\t%d\n", s, p.Subjects[s])
	}
	_ = tw.Flush()
	if p.Truncated {
		fmt.Fprintln(w, "  (subjects counted over the first 100000 messages)")
	}
}

func countSet(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

func dlqCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const usage = "hub dlq ls [--route R] | show SEQ | requeue SEQ|--route R|--all [--dry-run] | purge --route R"
	sub, code, ok := subcommand("hub dlq", usage, args, stdout, stderr)
	if !ok {
		return code
	}
	o := newOpsFlags("hub dlq "+sub, usage, stdout, stderr)
	route := o.String("route", "", "only this route's dead letters")
	all := o.Bool("all", false, "requeue: every dead letter")
	dryRun := o.Bool("dry-run", false, "requeue: print what would be requeued")
	limit := o.Int("limit", 100, "ls: at most this many (0 = all)")
	pos, code, ok := o.parse(args[1:])
	if !ok {
		return code
	}
	var fn func(context.Context, hubconfig.Config, jetstream.JetStream) error
	switch sub {
	case "ls":
		fn = func(ctx context.Context, _ hubconfig.Config, js jetstream.JetStream) error {
			list, err := ops.ListDLQ(ctx, js, *route, *limit)
			if err != nil || *o.json {
				return errors.Join(err, jsonIf(*o.json, stdout, list))
			}
			return printDLQ(stdout, list)
		}
	case "show":
		seq, err := seqArg(pos)
		if err != nil {
			return o.fail("%v", err)
		}
		fn = func(ctx context.Context, _ hubconfig.Config, js jetstream.JetStream) error {
			d, err := ops.GetDLQ(ctx, js, seq)
			if err != nil || *o.json {
				return errors.Join(err, jsonIf(*o.json, stdout, d))
			}
			printDeadLetter(stdout, d)
			return nil
		}
	case "requeue":
		fn = requeueFn(pos, *route, *all, *dryRun, *o.json, stdout)
		if fn == nil {
			return o.fail("give one of SEQ, --route R or --all")
		}
	case "purge":
		if *route == "" {
			return o.fail("--route R is required")
		}
		fn = func(ctx context.Context, _ hubconfig.Config, js jetstream.JetStream) error {
			n, err := ops.PurgeDLQ(ctx, js, *route)
			if err != nil || *o.json {
				return errors.Join(err, jsonIf(*o.json, stdout, map[string]any{"route": *route, "purged": n}))
			}
			fmt.Fprintf(stdout, "purged %d dead letters of route %s\n", n, *route)
			return nil
		}
	default:
		return o.fail("unknown subcommand %q", sub)
	}
	return opsCmd(ctx, o, stderr, fn)
}

func requeueFn(pos []string, route string, all, dryRun, asJSON bool, stdout io.Writer) func(context.Context, hubconfig.Config, jetstream.JetStream) error {
	seq, seqErr := seqArg(pos)
	if countSet(seqErr == nil, route != "", all) != 1 {
		return nil
	}
	return func(ctx context.Context, _ hubconfig.Config, js jetstream.JetStream) error {
		var letters []ops.DeadLetter
		if seqErr == nil {
			d, err := ops.GetDLQ(ctx, js, seq)
			if err != nil {
				return err
			}
			letters = []ops.DeadLetter{d}
		} else {
			list, err := ops.ListDLQ(ctx, js, route, 0)
			if err != nil {
				return err
			}
			letters = list
		}
		res, err := ops.Requeue(ctx, js, letters, dryRun)
		if asJSON {
			return errors.Join(err, printJSON(stdout, res))
		}
		for _, r := range res {
			switch {
			case r.DryRun:
				fmt.Fprintf(stdout, "would requeue dead letter %d (event %s) to %s for route %s\n", r.DLQSeq, r.EventID, r.Subject, r.Route)
			case r.Duplicate:
				fmt.Fprintf(stdout, "dead letter %d had already been requeued (%s seq %d); removed from the DLQ\n", r.DLQSeq, r.Stream, r.Seq)
			default:
				fmt.Fprintf(stdout, "requeued dead letter %d (event %s) to %s for route %s: %s seq %d\n", r.DLQSeq, r.EventID, r.Subject, r.Route, r.Stream, r.Seq)
			}
		}
		if len(res) == 0 {
			fmt.Fprintln(stdout, "no dead letters to requeue")
		}
		return err
	}
}

func seqArg(pos []string) (uint64, error) {
	if len(pos) != 1 {
		return 0, errors.New("want one DLQ sequence number")
	}
	seq, err := strconv.ParseUint(pos[0], 10, 64)
	if err != nil || seq == 0 {
		return 0, fmt.Errorf("%q is not a DLQ sequence number (see hub dlq ls)", pos[0])
	}
	return seq, nil
}

func jsonIf(yes bool, w io.Writer, v any) error {
	if !yes {
		return nil
	}
	return printJSON(w, v)
}

func printDLQ(w io.Writer, list []ops.DeadLetter) error {
	if len(list) == 0 {
		fmt.Fprintln(w, "no dead letters")
		return nil
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tROUTE\tORIGIN\tATTEMPTS\tKIND\tREASON")
	for _, d := range list {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s #%d\t%d\t%s\t%s\n", d.Seq, humanTime(d.Time), d.Route, d.OriginSubject, d.OriginSeq, d.Attempts, d.Kind, oneLine(d.Reason, 80))
	}
	return tw.Flush()
}

func printDeadLetter(w io.Writer, d ops.DeadLetter) {
	fmt.Fprintf(w, "dead letter %d, stored %s\n", d.Seq, humanTime(d.Time))
	fmt.Fprintf(w, "route:    %s\norigin:   %s seq %d, subject %s\nattempts: %d (%s)\nevent:    %s\nreason:   %s\n\nheaders:\n",
		d.Route, d.OriginStream, d.OriginSeq, d.OriginSubject, d.Attempts, d.Kind, d.EventID, d.Reason)
	keys := make([]string, 0, len(d.Headers))
	for k := range d.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %s: %s\n", k, strings.Join(d.Headers[k], ", "))
	}
	fmt.Fprintf(w, "\nbody (%d bytes):\n%s\n", len(d.Data), d.Data)
}
