package console

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/insightpulse/pulsehub/services/dispatcher/jobstate"
	"github.com/nats-io/nats.go/jetstream"
)

// index is the console's copy of bucket jobs, newest first, kept current
// by one watcher: a page of a filtered list of 10,000 jobs is a scan in
// memory, not a read of the whole bucket (jobs.List, for the CLI, reads
// it all at every call).
type index struct {
	mu    sync.RWMutex
	byID  map[string]*entry
	order []*entry // newest first: CreatedAt descending, then ID
	ready bool     // the watcher delivered every stored record

	services, tasks map[string]int // records per service and per task, for the filter's choices
}

// entry is one record with the lower-cased text a search looks in.
type entry struct {
	rec  jobstate.Record
	text string
}

func newIndex() *index {
	return &index{byID: map[string]*entry{}, services: map[string]int{}, tasks: map[string]int{}}
}

// count adds n to the facets of r. The caller holds x.mu.
func (x *index) count(r *jobstate.Record, n int) {
	add(x.services, r.Service, n)
	add(x.tasks, r.Task, n)
}

func add(m map[string]int, k string, n int) {
	if m[k] += n; m[k] <= 0 {
		delete(m, k)
	}
}

func before(a, b *entry) int {
	if c := b.rec.CreatedAt.Compare(a.rec.CreatedAt); c != 0 {
		return c
	}
	return strings.Compare(a.rec.ID, b.rec.ID)
}

// put adds or replaces a record.
func (x *index) put(r jobstate.Record) {
	e := &entry{rec: r, text: strings.ToLower(r.ID + "\x00" + r.Description + "\x00" + r.LastError + "\x00" + r.IdentityKey)}
	x.mu.Lock()
	defer x.mu.Unlock()
	if old := x.byID[r.ID]; old != nil {
		if old.rec.CreatedAt.Equal(r.CreatedAt) {
			i, _ := slices.BinarySearchFunc(x.order, old, before)
			x.order[i] = e
			x.byID[r.ID] = e
			x.count(&old.rec, -1)
			x.count(&e.rec, 1)
			return
		}
		x.remove(old)
	}
	i, _ := slices.BinarySearchFunc(x.order, e, before)
	x.order = slices.Insert(x.order, i, e)
	x.byID[r.ID] = e
	x.count(&e.rec, 1)
}

// del drops a record (expired or deleted).
func (x *index) del(id string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if old := x.byID[id]; old != nil {
		x.remove(old)
	}
}

func (x *index) remove(old *entry) {
	if i, ok := slices.BinarySearchFunc(x.order, old, before); ok {
		x.order = slices.Delete(x.order, i, i+1)
	}
	delete(x.byID, old.rec.ID)
	x.count(&old.rec, -1)
}

// Query selects jobs for the list.
type Query struct {
	State   jobstate.State
	Service string
	Task    string
	Text    string // matched, case-insensitively, in the id, description, last error and identity key
	Page    int    // from 0
	Size    int
}

// Result is one page of a query.
type Result struct {
	Jobs    []jobstate.Record
	Total   int  // jobs matching the query
	All     int  // jobs in the index
	Ready   bool // false while the first read of the bucket runs
	Page    int
	MaxPage int
}

// query returns one page of the jobs matching q, newest first.
func (x *index) query(q Query) Result {
	text := strings.ToLower(q.Text)
	x.mu.RLock()
	defer x.mu.RUnlock()
	res := Result{All: len(x.order), Ready: x.ready, Page: q.Page}
	from := q.Page * q.Size
	for _, e := range x.order {
		r := &e.rec
		if (q.State != "" && r.State != q.State) || (q.Service != "" && r.Service != q.Service) ||
			(q.Task != "" && r.Task != q.Task) || (text != "" && !strings.Contains(e.text, text)) {
			continue
		}
		if res.Total >= from && len(res.Jobs) < q.Size {
			res.Jobs = append(res.Jobs, *r)
		}
		res.Total++
	}
	if res.Total > 0 {
		res.MaxPage = (res.Total - 1) / q.Size
	}
	return res
}

// facets lists the services and tasks present, for the filter's choices.
func (x *index) facets() (services, tasks []string) {
	x.mu.RLock()
	for s := range x.services {
		services = append(services, s)
	}
	for t := range x.tasks {
		tasks = append(tasks, t)
	}
	x.mu.RUnlock()
	slices.Sort(services)
	slices.Sort(tasks)
	return services, tasks
}

// watch keeps the index current until ctx is done: it waits for the bucket
// (the dispatcher creates it), then applies every change. A watcher that
// stops (the bucket deleted, NATS gone for good) is started again.
func (x *index) watch(ctx context.Context, js jetstream.JetStream, retry time.Duration) error {
	for ctx.Err() == nil {
		err := x.follow(ctx, js)
		if ctx.Err() != nil {
			return nil
		}
		_ = err // the bucket is missing or NATS is away: the jobs page says the index is not ready
		select {
		case <-ctx.Done():
		case <-time.After(retry):
		}
	}
	return nil
}

func (x *index) follow(ctx context.Context, js jetstream.JetStream) error {
	kv, err := js.KeyValue(ctx, events.BucketJobs)
	if err != nil {
		return err
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = w.Stop() }()
	x.mu.Lock()
	x.byID, x.order, x.ready = map[string]*entry{}, nil, false
	x.services, x.tasks = map[string]int{}, map[string]int{}
	x.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("watcher stopped")
			}
			if e == nil {
				x.mu.Lock()
				x.ready = true
				x.mu.Unlock()
				continue
			}
			if e.Operation() != jetstream.KeyValuePut {
				x.del(e.Key())
				continue
			}
			var r jobstate.Record
			if json.Unmarshal(e.Value(), &r) != nil {
				continue // not a job state: someone wrote the bucket by hand
			}
			r.ID = e.Key()
			x.put(r)
		}
	}
}
