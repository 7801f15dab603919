package agent

import (
	"bufio"
	"bytes"
	"cmp"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// cgroupDir is where the container sees its own cgroups.
const cgroupDir = "/sys/fs/cgroup"

// oomKills is how many processes the kernel killed at the container's memory limit so far:
// the oom_kill count of memory.events (cgroup v2) or memory.oom_control (v1); -1 when the
// kernel does not say.
func oomKills(dir string) int64 {
	b, err := os.ReadFile(filepath.Join(dir, "memory.events"))
	if err != nil {
		if b, err = os.ReadFile(filepath.Join(dir, "memory", "memory.oom_control")); err != nil {
			return -1
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), " "); ok && k == "oom_kill" {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				return n
			}
		}
	}
	return -1
}

// memoryLimit is the container's memory limit as the kernel enforces it, "" when none.
func memoryLimit(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "memory.max"))
	if err != nil {
		if b, err = os.ReadFile(filepath.Join(dir, "memory", "memory.limit_in_bytes")); err != nil {
			return ""
		}
	}
	v := strings.TrimSpace(string(b))
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n >= 1<<62 {
		return "" // "max" (v2) or the page-rounded maximum (v1): no limit
	}
	if n%(1<<20) == 0 {
		return strconv.FormatInt(n>>20, 10) + "Mi"
	}
	return v + " bytes"
}

// oomWatch tells whether the kernel's out-of-memory killer struck the script: a child
// killed that way leaves only "Killed" and exit code 137, and Kubernetes reports nothing,
// since the container's own process lives on.
type oomWatch struct {
	dir    string
	before int64
}

func watchOOM(dir string) oomWatch { return oomWatch{dir: dir, before: oomKills(dir)} }

// struck says whether processes were OOM-killed since watchOOM, and the limit they hit.
func (w oomWatch) struck() (bool, string) {
	if w.before < 0 {
		return false, ""
	}
	return oomKills(w.dir) > w.before, memoryLimit(w.dir)
}

func (a *agent) cgroupDir() string { return cmp.Or(a.opts.CgroupDir, cgroupDir) }
