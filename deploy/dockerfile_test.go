package deploy

import (
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
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

// Each service's image runs its binary, exposes the port its default
// config listens on, and checks /health there (distroless: through /hub).
func TestDockerfileTargetsRunEachServiceOnItsPort(t *testing.T) {
	stages := dockerfile(t)
	for _, hs := range hubServices {
		st, ok := stages[hs.name]
		if !ok {
			t.Errorf("deploy/Dockerfile has no stage %s", hs.name)
			continue
		}
		port := listenPort(t, hs.http(hs.file()).Listen)
		checks := []struct{ op, want string }{
			{"ENTRYPOINT", fmt.Sprintf(`["/%s"]`, hs.name)},
			{"EXPOSE", fmt.Sprint(port)},
		}
		for _, c := range checks {
			if got := st.instructions[c.op]; len(got) != 1 || got[0] != c.want {
				t.Errorf("stage %s: %s %v, want %s", hs.name, c.op, got, c.want)
			}
		}
		if st.from != "runtime" {
			t.Errorf("stage %s is FROM %s, want the shared distroless runtime", hs.name, st.from)
		}
		hc := st.instructions["HEALTHCHECK"]
		want := []string{"/hub", "healthcheck", fmt.Sprintf("http://127.0.0.1:%d/health", port)}
		if len(hc) != 1 || !strings.Contains(hc[0], " CMD ") {
			t.Errorf("stage %s: HEALTHCHECK %v", hs.name, hc)
			continue
		}
		var cmd []string
		if err := json.Unmarshal([]byte(hc[0][strings.Index(hc[0], " CMD ")+5:]), &cmd); err != nil || strings.Join(cmd, " ") != strings.Join(want, " ") {
			t.Errorf("stage %s: HEALTHCHECK %v, want CMD %q", hs.name, hc, want)
		}
	}
	rt := stages["runtime"]
	if rt == nil || !strings.HasPrefix(rt.from, "gcr.io/distroless/static") || strings.Join(rt.instructions["USER"], "") != "nonroot:nonroot" {
		t.Errorf("runtime stage %+v: want distroless static, USER nonroot", rt)
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
// does and checks every binary is statically linked: it runs on a
// distroless static image, which has no libc.
func TestBuildShBuildsStaticBinaries(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every binary")
	}
	out := t.TempDir()
	for _, args := range [][]string{{out}, {out, "./deploy/cmd/playground"}} {
		cmd := exec.Command("sh", append([]string{"deploy/build.sh"}, args...)...)
		cmd.Dir = ".."
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sh deploy/build.sh %s: %v\n%s", strings.Join(args, " "), err, b)
		}
	}
	want := []string{"hub", "playground"}
	for _, hs := range hubServices {
		want = append(want, hs.name)
	}
	for _, name := range want {
		checkStatic(t, filepath.Join(out, name))
	}
	if entries, _ := os.ReadDir(out); len(entries) != len(want) {
		t.Errorf("build.sh wrote %d files, want %d", len(entries), len(want))
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
