// Package natssecrets makes the secrets of a NATS deployment of the hub
// (command cmd/natssecrets): a development certificate authority, the
// server certificate every node presents on its client and cluster ports
// (TLS 1.3), a client certificate for deployments that want mutual TLS,
// and one nkey per user of events/natsauth. It writes them as files, never
// into the repository (deploy/secrets is git-ignored), and keeps the
// variables docker compose reads in .env (the users' public keys) in step.
//
// Every directory is 0700: nobody but you reaches the files on the host. The
// files a container reads — the nodes' key, each service's seed, the
// certificates — are 0644 inside them, because a bind mount (docker
// compose's secrets and volumes) keeps a file's owner and mode and the
// containers run as users of their own (65532 for the hub, 1000 for NATS).
// The CA's key, the client key and the operator's seed, which no container
// mounts, are 0600.
//
// Files under Dir:
//
//	tls/ca.pem                              the CA's certificate: what clients verify the nodes with
//	tls/server.pem, tls/server-key.pem      every node's certificate (Hosts as names; server and client
//	                                        auth, for the routes' mutual TLS) — tls/ is what a node mounts
//	ca/ca-key.pem                           the CA's key: it only signs, and is never mounted
//	client/client.pem, client/client-key.pem  a client certificate, for servers set to verify clients
//	nkeys/<user>.nk, nkeys/<user>.pub       each user's seed (the operator's 0600) and public key
//
// What exists is kept: Generate makes only what is missing, so running it
// again changes nothing. Rotating is deleting the files to replace (or
// Options.Rotate) and running it again.
package natssecrets

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/insightpulse/pulsehub/events/natsauth"
	"github.com/nats-io/nkeys"
)

// DefaultHosts are the names the server certificate is valid for: the
// compose nodes, the Helm chart's pods and services in namespace pulsehub,
// and loopback.
var DefaultHosts = []string{
	"nats-1", "nats-2", "nats-3",
	"nats", "nats.pulsehub.svc", "nats.pulsehub.svc.cluster.local",
	"*.nats-headless", "*.nats-headless.pulsehub.svc", "*.nats-headless.pulsehub.svc.cluster.local",
	"localhost", "127.0.0.1", "::1",
}

// Options say what to generate.
type Options struct {
	Dir    string   // where the files go (deploy/secrets)
	Hosts  []string // the server certificate's names; default DefaultHosts
	Rotate []string // users whose nkeys are replaced; "tls" replaces the server and client certificates
	Now    func() time.Time
}

// Result says what Generate did.
type Result struct {
	Created []string          // files written
	Public  map[string]string // every user's public nkey
	Seeds   map[string]string // every user's seed
}

// Paths of the files under Dir.
func CAFile(dir string) string         { return filepath.Join(dir, "tls", "ca.pem") }
func ServerCertFile(dir string) string { return filepath.Join(dir, "tls", "server.pem") }
func ServerKeyFile(dir string) string  { return filepath.Join(dir, "tls", "server-key.pem") }
func ClientCertFile(dir string) string { return filepath.Join(dir, "client", "client.pem") }
func ClientKeyFile(dir string) string  { return filepath.Join(dir, "client", "client-key.pem") }
func SeedFile(dir, user string) string { return filepath.Join(dir, "nkeys", user+".nk") }
func caKeyFile(dir string) string      { return filepath.Join(dir, "ca", "ca-key.pem") }
func publicFile(dir, user string) string {
	return filepath.Join(dir, "nkeys", user+".pub")
}

// Generate makes what is missing under o.Dir (and what o.Rotate names).
func Generate(o Options) (Result, error) {
	if o.Dir == "" {
		return Result{}, errors.New("natssecrets: no directory")
	}
	if len(o.Hosts) == 0 {
		o.Hosts = DefaultHosts
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	for _, r := range o.Rotate {
		if r != "tls" && !slices.Contains(natsauth.Users(), r) {
			return Result{}, fmt.Errorf("natssecrets: cannot rotate %q: not tls or a user (%s)", r, strings.Join(natsauth.Users(), ", "))
		}
	}
	for _, d := range []string{"tls", "ca", "client", "nkeys"} {
		d = filepath.Join(o.Dir, d)
		if err := os.MkdirAll(d, 0o700); err != nil {
			return Result{}, err
		}
	}
	res := Result{Public: map[string]string{}, Seeds: map[string]string{}}
	if err := generateTLS(o, &res); err != nil {
		return res, fmt.Errorf("natssecrets: tls: %w", err)
	}
	for _, u := range natsauth.Users() {
		if err := generateNkey(o, u, &res); err != nil {
			return res, fmt.Errorf("natssecrets: nkey of %s: %w", u, err)
		}
	}
	return res, nil
}

func exists(file string) bool {
	_, err := os.Stat(file)
	return err == nil
}

func generateNkey(o Options, user string, res *Result) error {
	seedFile, pubFile := SeedFile(o.Dir, user), publicFile(o.Dir, user)
	if exists(seedFile) && !slices.Contains(o.Rotate, user) {
		b, err := os.ReadFile(seedFile)
		if err != nil {
			return err
		}
		kp, err := nkeys.FromSeed([]byte(strings.TrimSpace(string(b))))
		if err != nil {
			return fmt.Errorf("%s: %w", seedFile, err)
		}
		res.Seeds[user] = strings.TrimSpace(string(b))
		res.Public[user], err = kp.PublicKey()
		if err != nil {
			return err
		}
		if !exists(pubFile) {
			return write(pubFile, []byte(res.Public[user]), 0o644, res)
		}
		return nil
	}
	kp, err := nkeys.CreateUser()
	if err != nil {
		return err
	}
	seed, _ := kp.Seed()
	pub, _ := kp.PublicKey()
	res.Seeds[user], res.Public[user] = string(seed), pub
	mode := os.FileMode(0o644) // a service's container reads it
	if user == natsauth.Operator {
		mode = 0o600 // people only
	}
	if err := write(seedFile, append(seed, '\n'), mode, res); err != nil {
		return err
	}
	return write(pubFile, []byte(pub), 0o644, res)
}

// write replaces file with b at mode (whatever the umask).
func write(file string, b []byte, mode os.FileMode, res *Result) error {
	tmp := file + ".tmp"
	_ = os.Remove(tmp)
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	if err := os.Rename(tmp, file); err != nil {
		return err
	}
	res.Created = append(res.Created, file)
	return nil
}

func generateTLS(o Options, res *Result) error {
	ca, caKey, err := loadOrCreateCA(o, res)
	if err != nil {
		return err
	}
	rotate := slices.Contains(o.Rotate, "tls")
	if rotate || !exists(ServerCertFile(o.Dir)) || !exists(ServerKeyFile(o.Dir)) {
		tmpl := leaf(o, "pulsehub nats server", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth})
		for _, h := range o.Hosts {
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
		if err := issue(tmpl, ca, caKey, ServerCertFile(o.Dir), ServerKeyFile(o.Dir), 0o644, res); err != nil {
			return err
		}
	}
	if rotate || !exists(ClientCertFile(o.Dir)) || !exists(ClientKeyFile(o.Dir)) {
		tmpl := leaf(o, "pulsehub nats client", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth})
		if err := issue(tmpl, ca, caKey, ClientCertFile(o.Dir), ClientKeyFile(o.Dir), 0o600, res); err != nil {
			return err
		}
	}
	return nil
}

func loadOrCreateCA(o Options, res *Result) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	if exists(CAFile(o.Dir)) && exists(caKeyFile(o.Dir)) {
		cert, err := readCert(CAFile(o.Dir))
		if err != nil {
			return nil, nil, err
		}
		key, err := readKey(caKeyFile(o.Dir))
		if err != nil {
			return nil, nil, err
		}
		return cert, key, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := o.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "pulsehub development CA", Organization: []string{"Pulse Hub"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(3, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	if err := writeKey(caKeyFile(o.Dir), key, 0o600, res); err != nil {
		return nil, nil, err
	}
	if err := write(CAFile(o.Dir), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644, res); err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

func leaf(o Options, cn string, usage []x509.ExtKeyUsage) *x509.Certificate {
	now := o.Now()
	return &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"Pulse Hub"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  usage,
	}
}

// issue signs a certificate for tmpl and writes it with its key (at keyMode).
func issue(tmpl, ca *x509.Certificate, caKey *ecdsa.PrivateKey, certFile, keyFile string, keyMode os.FileMode, res *Result) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	if err := writeKey(keyFile, key, keyMode, res); err != nil {
		return err
	}
	return write(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644, res)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return n
}

func writeKey(file string, key *ecdsa.PrivateKey, mode os.FileMode, res *Result) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return write(file, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), mode, res)
}

func readCert(file string) (*x509.Certificate, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s: no PEM certificate", file)
	}
	return x509.ParseCertificate(blk.Bytes)
}

func readKey(file string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM key", file)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an ECDSA key", file)
	}
	return ek, nil
}

// EnvVars are the variables docker compose reads from .env for NATS: every
// user's public nkey (NATS_<USER>_NKEY, for the nodes). The seeds stay in
// their files: compose hands each service its own as a secret.
func (r Result) EnvVars() map[string]string {
	out := map[string]string{}
	for _, u := range natsauth.Users() {
		out[natsauth.NkeyVar(u)] = r.Public[u]
	}
	return out
}

// UpdateEnvFile sets vars in the dotenv file (created 0600 when missing),
// replacing the lines that set them and keeping every other line.
func UpdateEnvFile(file string, vars map[string]string) error {
	var lines []string
	b, err := os.ReadFile(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	default:
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
	}
	done := map[string]bool{}
	for i, line := range lines {
		k, _, ok := strings.Cut(line, "=")
		if v, known := vars[strings.TrimSpace(k)]; ok && known && !strings.HasPrefix(strings.TrimSpace(line), "#") {
			lines[i] = strings.TrimSpace(k) + "=" + v
			done[strings.TrimSpace(k)] = true
		}
	}
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		if !done[k] {
			lines = append(lines, k+"="+vars[k])
		}
	}
	mode := os.FileMode(0o600)
	if fi, err := os.Stat(file); err == nil {
		mode = fi.Mode().Perm()
	}
	return os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), mode)
}
