package natstest

import (
	"bytes"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/insightpulse/pulsehub/events/natsauth"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// Users are freshly generated nkeys for every user of natsauth (the four
// services and the operator), for servers that require them with the
// hub's permissions.
type Users struct {
	seeds  map[string]string
	public map[string]string
}

// NewUsers generates one nkey per user.
func NewUsers(tb testing.TB) *Users {
	tb.Helper()
	u := &Users{seeds: map[string]string{}, public: map[string]string{}}
	for _, name := range natsauth.Users() {
		kp, err := nkeys.CreateUser()
		if err != nil {
			tb.Fatal(err)
		}
		seed, _ := kp.Seed()
		pub, _ := kp.PublicKey()
		u.seeds[name], u.public[name] = string(seed), pub
	}
	return u
}

// Require makes o require the users' nkeys, each user with its natsauth
// permissions.
func (u *Users) Require(o *server.Options) {
	users, err := natsauth.NkeyUsers(u.public)
	if err != nil {
		panic(err) // every user has a key
	}
	o.Nkeys = users
}

// Seed is user's nkey seed (for service.NATSConfig.NKeySeed).
func (u *Users) Seed(user string) string { return u.seeds[user] }

// Public is user's public nkey.
func (u *Users) Public(user string) string { return u.public[user] }

// Options authenticate a client as user, with replies on the user's
// inbox prefix as the hub's connections have them.
func (u *Users) Options(user string) []nats.Option {
	kp, err := nkeys.FromSeed([]byte(u.seeds[user]))
	if err != nil {
		panic("natstest: no nkey for user " + user)
	}
	return []nats.Option{nats.Nkey(u.public[user], kp.Sign), nats.CustomInboxPrefix(natsauth.InboxPrefix(user))}
}

// RunAuthHub is RunHub on a server that requires the users' nkeys: the
// returned Hub's connection is the operator's.
func RunAuthHub(tb testing.TB) (*Hub, *Users) {
	tb.Helper()
	users := NewUsers(tb)
	o := Options(tb.TempDir())
	users.Require(o)
	s := Start(tb, o)
	tb.Cleanup(func() { Shutdown(s) })
	nc, js := Connect(tb, s.ClientURL(), users.Options(natsauth.Operator)...)
	EnsureStreams(tb, js)
	return &Hub{Server: s, URL: s.ClientURL(), Conn: nc, JS: js}, users
}

// PermissionLog is an io.Writer for the JSON log of services that run with
// their own natsauth users: it keeps the lines where a connection was
// refused a permission (nats.go's asynchronous "Permissions Violation"
// error, which the hub's connections log), so a test can fail on any
// permission a service lacks.
type PermissionLog struct {
	mu    sync.Mutex
	lines []string
}

// Write keeps the lines of p that report a permission violation.
func (l *PermissionLog) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(p, []byte("\n")) {
		if bytes.Contains(line, []byte("Permissions Violation")) {
			l.mu.Lock()
			l.lines = append(l.lines, string(line))
			l.mu.Unlock()
		}
	}
	return len(p), nil
}

// Lines are the violations seen so far.
func (l *PermissionLog) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

// Saw reports whether a violation line contains s.
func (l *PermissionLog) Saw(s string) bool {
	return slices.ContainsFunc(l.Lines(), func(line string) bool { return strings.Contains(line, s) })
}
