package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
)

// Paths relative to the repository root, where `make generate` runs.
const (
	defaultTable = "collector/engine/table.go"
	defaultOut   = "mixin/lib/engine-mapping.json"
)

func main() {
	table := flag.String("table", defaultTable, "Go source of the engine normalisation table")
	out := flag.String("o", defaultOut, "JSON file to write")
	check := flag.Bool("check", false, "only report whether the file is up to date (exit 1 when stale)")
	flag.Parse()
	if err := run(*table, *out, *check); err != nil {
		fmt.Fprintln(os.Stderr, "enginemapping:", err)
		os.Exit(1)
	}
}

func run(table, out string, check bool) error {
	src, err := os.ReadFile(table)
	if err != nil {
		return err
	}
	m, err := Parse(table, src)
	if err != nil {
		return err
	}
	b, err := m.JSON()
	if err != nil {
		return err
	}
	if check {
		old, err := os.ReadFile(out)
		if err != nil {
			return err
		}
		if !bytes.Equal(old, b) {
			return fmt.Errorf("%s is stale: run `make generate`", out)
		}
		return nil
	}
	return os.WriteFile(out, b, 0o644)
}
