// Command render writes the files generated from the mixin (rules, alerts, dashboards, promtool
// tests, docs tables) into the repository, or with -fmt rewrites the jsonnet sources jsonnetfmt-style.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/llm-node-exporter/llm-node-exporter/mixin"
)

func main() {
	mixinDir := flag.String("mixin", "mixin", "directory of mixin.libsonnet")
	root := flag.String("root", ".", "repository root the generated paths are relative to")
	fmtOnly := flag.Bool("fmt", false, "format the jsonnet sources in place instead of rendering")
	flag.Parse()

	if *fmtOnly {
		srcs, err := mixin.JsonnetSources(*mixinDir)
		if err != nil {
			fail(err)
		}
		for _, path := range srcs {
			b, err := os.ReadFile(path)
			if err != nil {
				fail(err)
			}
			out, err := mixin.FormatJsonnet(path, string(b))
			if err != nil {
				fail(err)
			}
			if out != string(b) {
				if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
					fail(err)
				}
				fmt.Println("formatted", path)
			}
		}
		return
	}
	files, err := mixin.Render(*mixinDir)
	if err != nil {
		fail(err)
	}
	if err := mixin.Write(*root, files); err != nil {
		fail(err)
	}
	for _, p := range mixin.SortedPaths(files) {
		fmt.Println("wrote", filepath.Join(*root, p))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "render:", err)
	os.Exit(1)
}
