package natssecrets

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/insightpulse/pulsehub/events/natsauth"
)

func mode(t *testing.T, file string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestGenerateMakesWhatIsMissingAndKeepsWhatExists(t *testing.T) {
	dir := t.TempDir()
	first, err := Generate(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	// What no container mounts is for its owner alone; what a container
	// reads as its own user is readable, inside directories only the owner
	// enters.
	for _, f := range []string{ClientKeyFile(dir), caKeyFile(dir), SeedFile(dir, natsauth.Operator)} {
		if m := mode(t, f); m != 0o600 {
			t.Errorf("%s: mode %v, want 0600", f, m)
		}
	}
	for _, f := range []string{ServerKeyFile(dir), SeedFile(dir, natsauth.Ingester), CAFile(dir)} {
		if m := mode(t, f); m != 0o644 {
			t.Errorf("%s: mode %v, want 0644 (a container's user reads it)", f, m)
		}
	}
	for _, d := range []string{dir, filepath.Dir(ServerKeyFile(dir)), filepath.Dir(SeedFile(dir, natsauth.Ingester))} {
		if m := mode(t, d); m != 0o700 && d != dir {
			t.Errorf("%s: mode %v, want 0700", d, m)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "tls", "ca-key.pem")); err == nil {
		t.Error("the CA's key is in tls/, which the nodes mount")
	}
	// The server certificate: signed by the CA, for the compose and k8s
	// names and loopback, for servers and for the routes' client side.
	caPEM, _ := os.ReadFile(CAFile(dir))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	b, _ := os.ReadFile(ServerCertFile(dir))
	blk, _ := pem.Decode(b)
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"nats-1", "nats-0.nats-headless", "localhost", "127.0.0.1"} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: name,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("server certificate for %s: %v", name, err)
		}
	}

	again, err := Generate(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Created) != 0 || again.Seeds[natsauth.Ingester] != first.Seeds[natsauth.Ingester] {
		t.Fatalf("a second run made %v", again.Created)
	}

	rotated, err := Generate(Options{Dir: dir, Rotate: []string{natsauth.Ingester, "tls"}})
	if err != nil {
		t.Fatal(err)
	}
	if rotated.Seeds[natsauth.Ingester] == first.Seeds[natsauth.Ingester] || rotated.Seeds[natsauth.Operator] != first.Seeds[natsauth.Operator] {
		t.Fatal("rotating the ingester did not replace only its nkey")
	}
	if got, _ := os.ReadFile(ServerCertFile(dir)); string(got) == string(b) {
		t.Fatal("rotating tls kept the server certificate")
	}
	if got, _ := os.ReadFile(CAFile(dir)); string(got) != string(caPEM) {
		t.Fatal("rotating tls replaced the CA: every client would need the new one")
	}
	if _, err := Generate(Options{Dir: dir, Rotate: []string{"nobody"}}); err == nil {
		t.Fatal("rotating an unknown user worked")
	}
}

func TestUpdateEnvFileSetsTheNATSVariablesAndKeepsTheRest(t *testing.T) {
	file := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(file, []byte("# secrets\nPULSEHUB_GITHUB_WEBHOOK_SECRET=s3cret\nNATS_INGESTER_SEED=old\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	res, err := Generate(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := UpdateEnvFile(file, res.EnvVars()); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(file)
	s := string(b)
	for _, want := range []string{"# secrets\n", "PULSEHUB_GITHUB_WEBHOOK_SECRET=s3cret\n", "NATS_INGESTER_SEED=old\n",
		"NATS_OPERATOR_NKEY=" + res.Public[natsauth.Operator] + "\n", "NATS_INGESTER_NKEY=" + res.Public[natsauth.Ingester] + "\n"} {
		if !strings.Contains(s, want) {
			t.Errorf(".env lacks %q:\n%s", want, s)
		}
	}
	// Seeds are files, never .env lines: a line it did not write stays as it was.
	if strings.Count(s, "_SEED=") != 1 {
		t.Errorf(".env:\n%s", s)
	}
	if m := mode(t, file); m != 0o640 {
		t.Errorf("mode %v changed", m)
	}
}
