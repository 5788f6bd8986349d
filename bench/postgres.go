package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// postgres is a PostgreSQL server the bench started in a temporary
// directory for the River peer: loopback only, its own port, fsync and
// synchronous_commit on (PostgreSQL's defaults, set explicitly), trust
// authentication for the one local user. stop removes everything.
type postgres struct {
	bin     string // the directory of initdb, pg_ctl, postgres
	dir     string
	data    string
	port    int
	version string
	cred    *syscall.Credential // the user the server runs as when the bench runs as root
}

// errNoPostgres says PostgreSQL is not installed: the River row reports it
// instead of failing the run.
var errNoPostgres = errors.New("PostgreSQL is not installed (no initdb under /usr/lib/postgresql/*/bin or on PATH; Debian: apt-get install postgresql)")

// postgresBin finds the newest installed PostgreSQL's bin directory.
func postgresBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errNoPostgres
}

// startPostgres runs initdb and pg_ctl start. PostgreSQL refuses to run as
// root: as root, the server runs as the package's postgres user.
func startPostgres(ctx context.Context) (*postgres, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, err
	}
	p := &postgres{bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root and no postgres user to run PostgreSQL as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	if p.dir, err = os.MkdirTemp("", "hubbench-pg"); err != nil {
		return nil, err
	}
	if p.cred != nil {
		if err := os.Chown(p.dir, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
			p.stop()
			return nil, err
		}
	}
	p.data = filepath.Join(p.dir, "data")
	if p.port, err = freePort(); err != nil {
		p.stop()
		return nil, err
	}
	out, err := p.cmd(ctx, "initdb", "-D", p.data, "-U", "bench", "--auth=trust", "-E", "UTF8", "--no-instructions")
	if err != nil {
		p.stop()
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -c unix_socket_directories=%s -c fsync=on -c synchronous_commit=on -c max_connections=100", p.port, p.dir)
	if out, err := p.cmd(ctx, "pg_ctl", "-D", p.data, "-o", opts, "-l", filepath.Join(p.dir, "log"), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(p.dir, "log"))
		p.stop()
		return nil, fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	if out, err := p.cmd(ctx, "postgres", "--version"); err == nil {
		p.version = strings.TrimSpace(string(out))
	}
	return p, nil
}

func (p *postgres) cmd(ctx context.Context, name string, args ...string) ([]byte, error) {
	c := exec.CommandContext(ctx, filepath.Join(p.bin, name), args...)
	c.Dir = p.dir
	if p.cred != nil {
		c.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	}
	return c.CombinedOutput()
}

// dsn is the connection string of the bench's database.
func (p *postgres) dsn() string {
	return fmt.Sprintf("postgres://bench@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// pid is the postmaster's process id (the first line of postmaster.pid).
func (p *postgres) pid() int {
	b, err := os.ReadFile(filepath.Join(p.data, "postmaster.pid"))
	if err != nil {
		return 0
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	n, _ := strconv.Atoi(strings.TrimSpace(string(line)))
	return n
}

// stop stops the server (fast shutdown) and removes its directory.
func (p *postgres) stop() {
	if p.data != "" {
		if _, err := os.Stat(filepath.Join(p.data, "postmaster.pid")); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			_, _ = p.cmd(ctx, "pg_ctl", "-D", p.data, "-m", "fast", "-w", "stop")
			cancel()
		}
	}
	if p.dir != "" {
		os.RemoveAll(p.dir)
	}
}

// serverUsage is the CPU time and proportional memory of a process tree
// rooted at pid (the postmaster and its backends), from /proc. The CPU
// counts the root's reaped children (cutime, cstime), so backends that
// exited still count.
func serverUsage(pid int) (cpu time.Duration, pss uint64) {
	if pid <= 0 {
		return 0, 0
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		ppid, ticks, ok := procStat(n)
		if !ok || (n != pid && ppid != pid) {
			continue
		}
		cpu += ticksToDuration(ticks)
		pss += procPSS(n)
	}
	return cpu, pss
}
