package attribution

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestProcFixtureFresh: testdata/proc is what testdata/make-proc.sh writes.
func TestProcFixtureFresh(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	out := filepath.Join(t.TempDir(), "proc")
	if b, err := exec.Command(bash, "testdata/make-proc.sh", out).CombinedOutput(); err != nil {
		t.Fatalf("make-proc.sh: %v\n%s", err, b)
	}
	read := func(root string) map[string][]byte {
		files := map[string][]byte{}
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			rel, _ := filepath.Rel(root, p)
			files[rel] = b
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return files
	}
	want, got := read(out), read("testdata/proc")
	for name, b := range want {
		if !bytes.Equal(got[name], b) {
			t.Errorf("testdata/proc/%s is stale: run bash attribution/testdata/make-proc.sh", name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("testdata/proc/%s is not made by make-proc.sh", name)
		}
	}
}
