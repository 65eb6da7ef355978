package main

import "testing"

// The rules pack's copy of the table is what the table says today: a row added
// to or changed in collector/engine/table.go without `make generate` fails here.
func TestCommittedMappingUpToDate(t *testing.T) {
	if err := run("../../"+defaultOut, true); err != nil {
		t.Fatal(err)
	}
}
