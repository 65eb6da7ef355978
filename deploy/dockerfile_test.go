package deploy

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// No Docker engine here: the Dockerfile is parsed by BuildKit's own parser and instruction
// decoder (what `docker build` runs first), with every lint rule of `docker build --check` on,
// and checked for what the image needs.

// parseDockerfile returns the stages, or the parse error / lint warnings.
func parseDockerfile(src []byte) ([]instructions.Stage, error) {
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		return nil, err
	}
	var warnings []string
	for _, w := range res.Warnings {
		warnings = append(warnings, w.Short)
	}
	lint := linter.New(&linter.Config{ExperimentalAll: true, Warn: func(rule, _, _, msg string, loc []parser.Range) {
		warnings = append(warnings, fmt.Sprintf("%s: %s (line %v)", rule, msg, loc))
	}})
	stages, _, err := instructions.Parse(res.AST, lint)
	if err != nil {
		return nil, err
	}
	if len(warnings) > 0 {
		return nil, fmt.Errorf("lint: %s", strings.Join(warnings, "; "))
	}
	return stages, nil
}

func checkDockerfile(stages []instructions.Stage) []error {
	var errs []error
	if len(stages) != 2 {
		return []error{fmt.Errorf("want 2 stages (build, runtime), got %d", len(stages))}
	}
	build, run := stages[0], stages[1]
	if !strings.HasPrefix(build.BaseName, "golang:") {
		errs = append(errs, fmt.Errorf("build stage FROM %s, want golang", build.BaseName))
	}
	cgo, built := false, false
	for _, c := range build.Commands {
		switch c := c.(type) {
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				if kv.Key == "CGO_ENABLED" && kv.Value == "1" {
					cgo = true
				}
			}
		case *instructions.RunCommand:
			if strings.Contains(strings.Join(c.CmdLine, " "), "go build") && strings.Contains(strings.Join(c.CmdLine, " "), "./cmd/llm-node-exporter") {
				built = true
			}
		}
	}
	if !cgo || !built {
		errs = append(errs, fmt.Errorf("build stage: CGO_ENABLED=1 %v, go build ./cmd/llm-node-exporter %v", cgo, built))
	}
	if !strings.Contains(run.BaseName, "distroless/base") && !strings.Contains(run.BaseName, "debian") {
		errs = append(errs, fmt.Errorf("runtime stage FROM %s: want a glibc image (cgo, dlopen of libnvidia-ml)", run.BaseName))
	}
	var user string
	var entrypoint []string
	copied := false
	for _, c := range run.Commands {
		switch c := c.(type) {
		case *instructions.UserCommand:
			user = c.User
		case *instructions.EntrypointCommand:
			if c.PrependShell {
				errs = append(errs, fmt.Errorf("ENTRYPOINT in shell form: the image has no shell"))
			}
			entrypoint = c.CmdLine
		case *instructions.CopyCommand:
			copied = copied || c.From == build.Name
		case *instructions.RunCommand:
			errs = append(errs, fmt.Errorf("RUN in the runtime stage: it has no shell"))
		}
	}
	if user == "" || user == "root" || strings.HasPrefix(user, "0") {
		errs = append(errs, fmt.Errorf("runtime USER %q: want non-root", user))
	}
	if !slices.Equal(entrypoint, []string{"/bin/llm-node-exporter"}) || !copied {
		errs = append(errs, fmt.Errorf("ENTRYPOINT %q, binary copied from the build stage %v", entrypoint, copied))
	}
	return errs
}

func TestDockerfile(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	stages, err := parseDockerfile(src)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	reportAll(t, "Dockerfile", checkDockerfile(stages))

	for name, mutated := range map[string]string{
		"unknown instruction": strings.Replace(string(src), "WORKDIR /src", "WORKDIRR /src", 1),
		"lint: casing":        strings.Replace(string(src), " AS build", " as build", 1),
		"root":                strings.Replace(string(src), "USER 65532:65532", "USER root", 1),
		"no cgo":              strings.Replace(string(src), "CGO_ENABLED=1", "CGO_ENABLED=0", 1),
		"shell entrypoint":    strings.Replace(string(src), `ENTRYPOINT ["/bin/llm-node-exporter"]`, "ENTRYPOINT /bin/llm-node-exporter", 1),
	} {
		if mutated == string(src) {
			t.Fatalf("%s: the mutation did not apply", name)
		}
		stages, err := parseDockerfile([]byte(mutated))
		if err == nil && len(checkDockerfile(stages)) == 0 {
			t.Errorf("%s: not caught", name)
		}
	}
}

// buildInputs lists the files `go build ./cmd/llm-node-exporter` reads, relative to the root.
func buildInputs(t *testing.T) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f",
		`{{if not .Standard}}{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .CgoFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .CFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .HFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .EmbedFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{end}}`,
		"./cmd/llm-node-exporter")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	files := []string{"go.mod", "go.sum"}
	for line := range strings.SplitSeq(string(out), "\n") {
		if rel, err := filepath.Rel(root, line); err == nil && line != "" && !strings.HasPrefix(rel, "..") {
			files = append(files, rel)
		}
	}
	if len(files) < 10 {
		t.Fatalf("only %d build inputs: %v", len(files), files)
	}
	return files
}

// excluded returns the inputs a .dockerignore leaves out of the build context.
func excluded(t *testing.T, dockerignore []byte, files []string) []string {
	t.Helper()
	patterns, err := ignorefile.ReadAll(bytes.NewReader(dockerignore))
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		if m, err := pm.MatchesOrParentMatches(f); err != nil || m {
			out = append(out, f)
		}
	}
	return out
}

func TestDockerignoreKeepsBuildInputs(t *testing.T) {
	di, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	files := buildInputs(t)
	if ex := excluded(t, di, files); len(ex) > 0 {
		t.Errorf(".dockerignore leaves build inputs out of the context: %v", ex)
	}
	if ex := excluded(t, append(di, []byte("\ncollector/gpu\n")...), files); len(ex) == 0 {
		t.Errorf("a .dockerignore excluding collector/gpu was not caught")
	}
}
