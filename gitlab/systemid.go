package gitlab

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// machineIDPath is a variable so tests can point it elsewhere.
var machineIDPath = "/etc/machine-id"

var systemIDPattern = regexp.MustCompile(`^[sr]_[0-9a-z]{12}$`)

// LoadOrCreateSystemID returns the system_id stored at path, creating it on first use.
// A new id is "s_" + 12 hex chars derived from /etc/machine-id when readable (keyed, so the
// machine id itself is not disclosed), else "r_" + 12 random chars. The file is created
// atomically; when two processes race, both end up with the one that landed first.
func LoadOrCreateSystemID(path string) (string, error) {
	if id, err := readSystemID(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return id, err
	}
	id, err := newSystemID()
	if err != nil {
		return "", err
	}
	if err := createExclusive(path, []byte(id+"\n")); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readSystemID(path)
		}
		return "", fmt.Errorf("store system id: %w", err)
	}
	return id, nil
}

// podSystemIDPrefix keeps a pod's system_id apart from other hashes of the same names.
const podSystemIDPrefix = "kuberunner system_id of pod "

// PodSystemID is the system_id of a runner running as pod podName in namespace: "s_" and 12
// hex characters of a hash of both. Kubernetes keeps both for the pod's life and gives each
// replica its own name, so nothing is stored: the config directory may be a read-only Secret
// mount. A new pod is a new runner manager in GitLab, as it was with the file in an emptyDir.
func PodSystemID(namespace, podName string) string {
	sum := sha256.Sum256([]byte(podSystemIDPrefix + namespace + "/" + podName))
	return "s_" + hex.EncodeToString(sum[:])[:12]
}

func readSystemID(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	id := strings.TrimSpace(string(b))
	if !systemIDPattern.MatchString(id) {
		// Do not silently replace it: a new id would make GitLab see a new runner manager.
		return "", fmt.Errorf("system id file %s: %q is not s_ or r_ followed by 12 characters; fix or delete the file", path, id)
	}
	return id, nil
}

func newSystemID() (string, error) {
	if mid, err := os.ReadFile(machineIDPath); err == nil && len(strings.TrimSpace(string(mid))) > 0 {
		mac := hmac.New(sha256.New, []byte(strings.TrimSpace(string(mid))))
		mac.Write([]byte("kuberunner"))
		return "s_" + hex.EncodeToString(mac.Sum(nil))[:12], nil
	}
	// rand.Text is base32 (A-Z, 2-7) from the system's CSPRNG, 26 chars long.
	return "r_" + strings.ToLower(rand.Text()[:12]), nil
}

// createExclusive writes data to a temporary file beside path and links it into place, so
// readers never see a partial file and an existing one is never overwritten.
func createExclusive(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".system_id-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Link(tmp.Name(), path)
}
