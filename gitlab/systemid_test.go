package gitlab

import (
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
)

func withMachineID(t *testing.T, content *string) {
	t.Helper()
	old := machineIDPath
	machineIDPath = filepath.Join(t.TempDir(), "machine-id")
	t.Cleanup(func() { machineIDPath = old })
	if content != nil {
		if err := os.WriteFile(machineIDPath, []byte(*content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoadOrCreateSystemID(t *testing.T) {
	mid := "4c4c4544004c3510804cb4c04f523232\n"
	tests := []struct {
		name      string
		machineID *string
		pattern   string
	}{
		{"from machine id", &mid, `^s_[0-9a-f]{12}$`},
		{"random without machine id", nil, `^r_[0-9a-z]{12}$`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			withMachineID(t, tc.machineID)
			path := filepath.Join(t.TempDir(), ".runner_system_id")
			id, err := LoadOrCreateSystemID(path)
			if err != nil {
				t.Fatalf("LoadOrCreateSystemID: %v", err)
			}
			if !regexp.MustCompile(tc.pattern).MatchString(id) {
				t.Errorf("id %q does not match %s", id, tc.pattern)
			}
			stored, err := os.ReadFile(path)
			if err != nil || string(stored) != id+"\n" {
				t.Errorf("stored %q, %v; want %q", stored, err, id+"\n")
			}
			again, err := LoadOrCreateSystemID(path)
			if err != nil || again != id {
				t.Errorf("second call = %q, %v; want the stored %q", again, err, id)
			}
			if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".system_id-*")); len(leftovers) > 0 {
				t.Errorf("temporary files left behind: %v", leftovers)
			}
		})
	}
}

func TestSystemIDFromMachineIDIsStableAndHidesIt(t *testing.T) {
	mid := "4c4c4544004c3510804cb4c04f523232"
	withMachineID(t, &mid)
	a, err := LoadOrCreateSystemID(filepath.Join(t.TempDir(), "id"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreateSystemID(filepath.Join(t.TempDir(), "id"))
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Errorf("same machine gave %q and %q", a, b)
	}
	if a[2:] == mid[:12] {
		t.Errorf("system id %q discloses the machine id", a)
	}
}

func TestLoadOrCreateSystemIDRejectsGarbage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "id")
	if err := os.WriteFile(path, []byte("hello world\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if id, err := LoadOrCreateSystemID(path); err == nil {
		t.Errorf("garbage accepted as %q", id)
	}
	if _, err := LoadOrCreateSystemID(filepath.Join(t.TempDir(), "missing-dir", "id")); err == nil {
		t.Error("no error for a directory that does not exist")
	}
}

func TestLoadOrCreateSystemIDConcurrent(t *testing.T) {
	withMachineID(t, nil) // random ids, so a race would show as different answers
	path := filepath.Join(t.TempDir(), "id")
	ids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			id, err := LoadOrCreateSystemID(path)
			if err != nil {
				t.Errorf("LoadOrCreateSystemID: %v", err)
			}
			ids[i] = id
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent callers got different ids: %v", ids)
		}
	}
}

// TestPodSystemID: stable for one pod, distinct across pods and namespaces, and shaped as
// GitLab expects a system_id.
func TestPodSystemID(t *testing.T) {
	a := PodSystemID("ci", "kuberunner-7d9f8-aaaaa")
	if again := PodSystemID("ci", "kuberunner-7d9f8-aaaaa"); again != a {
		t.Errorf("one pod, two ids: %q, %q", a, again)
	}
	if !regexp.MustCompile(`^s_[0-9a-f]{12}$`).MatchString(a) || !systemIDPattern.MatchString(a) {
		t.Errorf("id %q is not s_ and 12 hex characters", a)
	}
	others := map[string]string{
		"another pod":           PodSystemID("ci", "kuberunner-7d9f8-bbbbb"),
		"another namespace":     PodSystemID("ci2", "kuberunner-7d9f8-aaaaa"),
		"names split elsewhere": PodSystemID("c", "ikuberunner-7d9f8-aaaaa"),
		"no namespace":          PodSystemID("", "kuberunner-7d9f8-aaaaa"),
	}
	for name, id := range others {
		if id == a {
			t.Errorf("%s has the same id %q", name, id)
		}
	}
}
