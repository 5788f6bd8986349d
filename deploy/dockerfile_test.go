package deploy

import (
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/insightpulse/pulsehub/services/hub/hubconfig"
)

// stage is one stage of deploy/Dockerfile.
type stage struct {
	from         string
	instructions map[string][]string // EXPOSE, HEALTHCHECK, ENTRYPOINT, RUN, ... → their arguments, in order
}

var fromLine = regexp.MustCompile(`(?i)^FROM\s+(\S+)\s+AS\s+(\S+)$`)

// dockerfile reads deploy/Dockerfile's stages by name.
func dockerfile(t *testing.T) map[string]*stage {
	t.Helper()
	text := strings.ReplaceAll(string(repoFile(t, "deploy/Dockerfile")), "\\\n", " ")
	stages := map[string]*stage{}
	var cur *stage
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if m := fromLine.FindStringSubmatch(line); m != nil {
			cur = &stage{from: m[1], instructions: map[string][]string{}}
			stages[m[2]] = cur
			continue
		}
		if cur == nil {
			continue // ARG before the first FROM
		}
		op, args, _ := strings.Cut(line, " ")
		op = strings.ToUpper(op)
		cur.instructions[op] = append(cur.instructions[op], strings.TrimSpace(args))
	}
	return stages
}

func dockerfileTargets(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for name := range dockerfile(t) {
		out[name] = true
	}
	return out
}

// Each service's image is the runtime (hub as the entrypoint) with
// `run --only <service>` as its command, exposes the port its default
// config listens on, and checks /health there through `hub healthcheck`
// (distroless: no curl).
func TestDockerfileTargetsRunEachServiceOnItsPort(t *testing.T) {
	stages := dockerfile(t)
	defaults := hubconfig.Default()
	for _, hs := range hubServices {
		st, ok := stages[hs.name]
		if !ok {
			t.Errorf("deploy/Dockerfile has no stage %s", hs.name)
			continue
		}
		if st.from != "runtime" {
			t.Errorf("stage %s is FROM %s, want the shared distroless runtime", hs.name, st.from)
		}
		port := listenPort(t, hs.http(&defaults).Listen)
		if got := st.instructions["EXPOSE"]; len(got) != 1 || got[0] != fmt.Sprint(port) {
			t.Errorf("stage %s: EXPOSE %v, want %d", hs.name, got, port)
		}
		if got, want := execForm(t, hs.name, st, "CMD"), []string{"run", "--only", hs.name}; !slices.Equal(got, want) {
			t.Errorf("stage %s: CMD %q, want %q", hs.name, got, want)
		}
		for _, op := range []string{"ENTRYPOINT", "COPY", "RUN", "USER"} {
			if got := st.instructions[op]; len(got) > 0 {
				t.Errorf("stage %s: %s %v; a service image is the runtime's hub with a command", hs.name, op, got)
			}
		}
		hc := st.instructions["HEALTHCHECK"]
		want := []string{"/hub", "healthcheck", fmt.Sprintf("http://127.0.0.1:%d/health", port)}
		if len(hc) != 1 || !strings.Contains(hc[0], " CMD ") {
			t.Errorf("stage %s: HEALTHCHECK %v", hs.name, hc)
			continue
		}
		var cmd []string
		if err := json.Unmarshal([]byte(hc[0][strings.Index(hc[0], " CMD ")+5:]), &cmd); err != nil || !slices.Equal(cmd, want) {
			t.Errorf("stage %s: HEALTHCHECK %v, want CMD %q", hs.name, hc, want)
		}
	}
	rt := stages["runtime"]
	if rt == nil || !strings.HasPrefix(rt.from, "gcr.io/distroless/static") || strings.Join(rt.instructions["USER"], "") != "nonroot:nonroot" {
		t.Fatalf("runtime stage %+v: want distroless static, USER nonroot", rt)
	}
	if got := execForm(t, "runtime", rt, "ENTRYPOINT"); !slices.Equal(got, []string{"/hub"}) ||
		!slices.Equal(rt.instructions["COPY"], []string{"--from=build /out/hub /hub"}) {
		t.Errorf("runtime stage: ENTRYPOINT %q, COPY %q; want the built hub as /hub, the entrypoint", got, rt.instructions["COPY"])
	}
	if got := execForm(t, "hub", stages["hub"], "CMD"); !slices.Equal(got, []string{"run", "--data-dir", "/data"}) {
		t.Errorf("stage hub: CMD %q, want the whole hub on its embedded server, store in /data", got)
	}
}

// execForm is the JSON argument list of a stage's one op (CMD, ENTRYPOINT).
func execForm(t *testing.T, name string, st *stage, op string) []string {
	t.Helper()
	if st == nil {
		t.Errorf("deploy/Dockerfile has no stage %s", name)
		return nil
	}
	got := st.instructions[op]
	var args []string
	if len(got) != 1 || json.Unmarshal([]byte(got[0]), &args) != nil {
		t.Errorf("stage %s: %s %v, want one in exec form", name, op, got)
	}
	return args
}

// pinnedImage is an image named by tag and pinned by its digest: the tag
// says what it is, the digest is what is pulled.
var pinnedImage = regexp.MustCompile(`^[a-z0-9./-]+:[A-Za-z0-9._-]+@sha256:[0-9a-f]{64}$`)

// Every base image (a FROM that is not an earlier stage) is pinned by
// digest, so a rebuild of a commit starts from the same bytes; and no
// `# syntax=` line pulls a Dockerfile frontend by a moving tag.
func TestDockerfileBaseImagesArePinnedByDigest(t *testing.T) {
	stages := dockerfile(t)
	external := 0
	for name, st := range stages {
		if _, stage := stages[st.from]; stage {
			continue
		}
		external++
		if !pinnedImage.MatchString(st.from) {
			t.Errorf("stage %s is FROM %s: pin it as image:tag@sha256:<digest> (deploy/README.md, \"Reproducible images\")", name, st.from)
		}
	}
	if external < 2 {
		t.Errorf("%d base images; want the Go build image and the distroless runtime", external)
	}
	for _, line := range strings.Split(string(repoFile(t, "deploy/Dockerfile")), "\n") {
		if strings.HasPrefix(strings.ToLower(line), "# syntax=") && !strings.Contains(line, "@sha256:") {
			t.Errorf("%q pulls a frontend image by tag", line)
		}
	}
}

// The images, `make build` and this test build with the one script.
func TestEveryBuildRunsBuildSh(t *testing.T) {
	build := dockerfile(t)["build"]
	if build == nil || !strings.Contains(strings.Join(build.instructions["RUN"], "\n"), "sh deploy/build.sh /out") {
		t.Errorf("the Dockerfile's build stage does not run deploy/build.sh")
	}
	if !regexp.MustCompile(`(?m)^\s+sh deploy/build.sh bin$`).Match(repoFile(t, "Makefile")) {
		t.Errorf("make build does not run deploy/build.sh")
	}
}

// TestBuildShBuildsStaticBinaries runs deploy/build.sh as the Dockerfile
// does and checks it writes the hub binary alone (every service runs
// from it), statically linked (it runs on a distroless static image, which
// has no libc) and stamped with $VERSION and $COMMIT; and the playground's
// set-up when asked for it.
func TestBuildShBuildsStaticBinaries(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries")
	}
	out := t.TempDir()
	const version, commit = "1.2.3-deploytest", "0123456789abcdef0123456789abcdef01234567"
	for _, args := range [][]string{{out}, {out, "./deploy/cmd/playground"}} {
		cmd := exec.Command("sh", append([]string{"deploy/build.sh"}, args...)...)
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), "VERSION="+version, "COMMIT="+commit)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sh deploy/build.sh %s: %v\n%s", strings.Join(args, " "), err, b)
		}
	}
	want := []string{"hub", "playground"}
	for _, name := range want {
		checkStatic(t, filepath.Join(out, name))
	}
	var got []string
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, want) {
		t.Errorf("build.sh wrote %v, want %v", got, want)
	}
	b, err := exec.Command(filepath.Join(out, "hub"), "version").CombinedOutput()
	if want := "hub " + version + " (commit " + commit + ")"; err != nil || strings.TrimSpace(string(b)) != want {
		t.Errorf("hub version: %q, %v; want %q", b, err, want)
	}
}

func checkStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s is dynamically linked (%s)", path, p.Type)
		}
	}
	if s := f.Section(".dynamic"); s != nil {
		t.Errorf("%s has a .dynamic section", path)
	}
}
