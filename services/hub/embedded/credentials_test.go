package embedded

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/insightpulse/pulsehub/events/natsauth"
	"github.com/nats-io/nats.go"
)

func testConfig(t *testing.T) Config {
	t.Helper()
	c := DefaultConfig()
	c.Listen, c.Monitor, c.DataDir = "127.0.0.1:-1", "off", t.TempDir()
	return c
}

func TestEnsureCredentialsCreatesOnceAndKeeps(t *testing.T) {
	c := testConfig(t)
	first, created, err := EnsureCredentials(c)
	if err != nil || len(created) != len(natsauth.Users()) {
		t.Fatalf("first: created %v, %v", created, err)
	}
	// A seed file someone made readable is tightened again.
	if err := os.Chmod(c.SeedFile(natsauth.Operator), 0o644); err != nil {
		t.Fatal(err)
	}
	again, created, err := EnsureCredentials(c)
	if err != nil || len(created) != 0 || again[natsauth.Operator] != first[natsauth.Operator] {
		t.Fatalf("second: created %v, %v", created, err)
	}
	for _, u := range natsauth.Users() {
		if fi, err := os.Stat(c.SeedFile(u)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want 0600", u, fi.Mode(), err)
		}
	}
	// One lost: only it is made again.
	if err := os.Remove(c.SeedFile(natsauth.Ingester)); err != nil {
		t.Fatal(err)
	}
	third, created, err := EnsureCredentials(c)
	if err != nil || len(created) != 1 || created[0] != natsauth.Ingester || third[natsauth.Ingester] == first[natsauth.Ingester] {
		t.Fatalf("after removing the ingester's: created %v, %v", created, err)
	}
	// A file that holds no seed stops the start with its name.
	if err := os.WriteFile(c.SeedFile(natsauth.Healthmon), []byte("nope"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := EnsureCredentials(c); err == nil || !strings.Contains(err.Error(), "healthmon.nk") {
		t.Fatalf("bad seed: %v", err)
	}

	none := testConfig(t)
	none.Auth = AuthNone
	if creds, _, err := EnsureCredentials(none); creds != nil || err != nil {
		t.Fatalf("auth none: %v %v", creds, err)
	}
	if _, err := os.Stat(none.CredentialsDir()); !os.IsNotExist(err) {
		t.Fatal("auth none made a credentials directory")
	}
}

func TestStartRequiresTheUsersAndWritesTheirContext(t *testing.T) {
	c := testConfig(t)
	s, err := Start(context.Background(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer Shutdown(s)
	if nc, err := nats.Connect(s.ClientURL()); err == nil {
		nc.Close()
		t.Fatal("connected without credentials")
	}
	opt, err := nats.NkeyOptionFromSeed(c.SeedFile(natsauth.Operator))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(s.ClientURL(), opt)
	if err != nil {
		t.Fatalf("operator: %v", err)
	}
	nc.Close()

	if err := WriteContext(c, s.ClientURL()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(c.ContextFile())
	if err != nil {
		t.Fatal(err)
	}
	var ctx struct{ URL, NKey string }
	if err := json.Unmarshal(b, &ctx); err != nil || ctx.URL != s.ClientURL() || !filepath.IsAbs(ctx.NKey) || filepath.Base(ctx.NKey) != "operator.nk" {
		t.Fatalf("context %s: %+v %v", b, ctx, err)
	}
	if fi, _ := os.Stat(c.ContextFile()); fi.Mode().Perm() != 0o600 {
		t.Errorf("context mode %v", fi.Mode().Perm())
	}
}

func TestAConfigFileWithItsOwnAuthorizationNeedsAuthNone(t *testing.T) {
	c := testConfig(t)
	c.ConfigFile = filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(c.ConfigFile, []byte("authorization { token: s3cret }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := Start(context.Background(), c, nil); err == nil {
		Shutdown(s)
		t.Fatal("started with two authorizations")
	} else if !strings.Contains(err.Error(), "auth: none") {
		t.Fatalf("error does not say what to do: %v", err)
	}
	c.Auth = AuthNone
	s, err := Start(context.Background(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer Shutdown(s)
	nc, err := nats.Connect(s.ClientURL(), nats.Token("s3cret"))
	if err != nil {
		t.Fatalf("the file's own token: %v", err)
	}
	nc.Close()
	if ps := (Config{Listen: "127.0.0.1:4222", DataDir: "d", Sync: DefaultSyncInterval, Auth: "maybe"}).Validate("embedded"); len(ps) != 1 || !strings.Contains(ps.Error(), "embedded.auth") {
		t.Fatalf("auth maybe: %v", ps)
	}
}
