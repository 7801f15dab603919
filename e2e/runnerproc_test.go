//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/internal/testio"
)

// runnerProcess is `kuberunner run` as a process of its own, so that a test can kill it
// the way the kernel's OOM killer or a node failure does: SIGKILL, no goodbye.
type runnerProcess struct {
	bin, cfgPath string
	logs         *testio.Buffer // every process's stderr, one after the other
	cmd          *exec.Cmd
	exited       chan struct{}
}

// built holds the commands built for this test binary, by package.
var built sync.Map // package -> func() (string, error)

// goBinary builds a command of this repository once per test binary, as `make build` does.
func goBinary(t testing.TB, pkg string) string {
	t.Helper()
	f, _ := built.LoadOrStore(pkg, sync.OnceValues(func() (string, error) {
		dir, err := os.MkdirTemp("", "kr-e2e-bin-")
		if err != nil {
			return "", err
		}
		bin := filepath.Join(dir, filepath.Base(pkg))
		cmd := exec.Command("go", "build", "-trimpath", "-o", bin, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("%v: %s", err, out)
		}
		return bin, nil
	}))
	bin, err := f.(func() (string, error))()
	if err != nil {
		t.Fatalf("build %s: %v", pkg, err)
	}
	return bin
}

// newRunnerProcess writes cfg where `kuberunner run --config` reads it.
func newRunnerProcess(t testing.TB, cfg *config.Config) *runnerProcess {
	t.Helper()
	p := &runnerProcess{bin: goBinary(t, "github.com/kuberunner/kuberunner/cmd/kuberunner"), cfgPath: filepath.Join(t.TempDir(), "config.yaml"), logs: &testio.Buffer{}}
	if err := config.Save(p.cfgPath, cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.signal(t, syscall.SIGTERM)
		if t.Failed() {
			t.Logf("runner log:\n%s", p.logs.String())
		}
	})
	return p
}

func (p *runnerProcess) start(t testing.TB) {
	t.Helper()
	p.cmd = exec.Command(p.bin, "run", "--config", p.cfgPath)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start the runner: %v", err)
	}
	p.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) {
		_ = cmd.Wait()
		close(exited)
	}(p.cmd, p.exited)
}

// kill ends the process at once: nothing of it runs after this returns.
func (p *runnerProcess) kill(t testing.TB) { p.signal(t, syscall.SIGKILL) }

// signal sends sig and waits for the process to exit (a minute at most for SIGTERM).
func (p *runnerProcess) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if p.cmd == nil {
		return
	}
	select {
	case <-p.exited:
		return
	default:
	}
	if hwm := rssMiB(p.cmd.Process.Pid, "VmHWM"); hwm > 0 {
		t.Logf("runner process %d: peak RSS %.1f MiB before %v", p.cmd.Process.Pid, hwm, sig)
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
	case <-time.After(time.Minute):
		_ = p.cmd.Process.Kill()
		<-p.exited
		t.Errorf("the runner did not exit within a minute of %v", sig)
	}
}
