package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/kuberunner/kuberunner/executor/jobpod"
	"github.com/kuberunner/kuberunner/jobspec"
)

// Prepare is `kuberunner-agent step prepare` (see PrepareInShipper): it copies the agent into
// the shared bin volume, gets the sources, the dependencies' artifacts and the cache.
// It returns the process exit code.
func Prepare(ctx context.Context, o Options) int {
	a, err := load(o)
	if err != nil {
		return loadFailed(o, err)
	}
	defer a.close()
	// The build container may run as another user than this one (the job image decides);
	// files it must write (the workspace, a cache) are created writable for everyone.
	// Only this pod sees the volume.
	old := syscall.Umask(0)
	defer syscall.Umask(old)

	if err := a.installBinary(); err != nil {
		return a.fail(jobspec.RunnerSystemFailure, err)
	}
	if a.cfg.Kubectl {
		if err := a.installKubectl(); err != nil {
			return a.fail(jobspec.RunnerSystemFailure, err)
		}
	}
	// No file variables here: only the build container writes those, as its own user.
	vars := a.job.Variables.Expanded()
	err = a.section("get_sources", "Getting source from Git repository", func() error {
		return a.getSources(ctx, vars)
	})
	if err != nil {
		return a.fail(jobspec.RunnerSystemFailure, fmt.Errorf("get sources: %w", err))
	}
	if err := a.downloadDependencies(ctx); err != nil {
		return a.fail(jobspec.RunnerSystemFailure, err)
	}
	a.restoreCaches(ctx, vars)
	return 0
}

// installBinary copies the running executable into the shared bin volume.
func (a *agent) installBinary() error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	if err := a.install(self, "kuberunner"); err != nil {
		return fmt.Errorf("install agent: %w", err)
	}
	return nil
}

// installKubectl copies the helper image's kubectl beside the agent, for deploy jobs whose
// image has none.
func (a *agent) installKubectl() error {
	path, err := exec.LookPath("kubectl")
	if err != nil {
		return fmt.Errorf("this deploy job needs kubectl and the helper image has none on its PATH: %w", err)
	}
	if err := a.install(path, "kubectl"); err != nil {
		return fmt.Errorf("install kubectl: %w", err)
	}
	return nil
}

// install copies an executable into the bin volume through a temporary name, so the build
// container never starts a half-written file.
func (a *agent) install(path, name string) error {
	src, err := os.Open(path)
	if err != nil {
		return err
	}
	defer src.Close()
	if err := os.MkdirAll(a.opts.BinDir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(a.opts.BinDir, "."+name+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = io.Copy(tmp, src)
	if err = errors.Join(err, tmp.Chmod(0o755), tmp.Close()); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(a.opts.BinDir, name))
}

// PrepareInShipper is `kuberunner-agent step prepare --hook`: Prepare as the trace
// shipper's postStart hook, so that the job's pod starts one container fewer. It always
// succeeds (a failing hook only gets the shipper killed and restarted) and leaves its
// outcome in the trace directory, where the build container's agent finds it; a restarted
// shipper's hook finds prepare done and returns at once. Its output goes to the trace only:
// the kubelet would hold a hook's output in memory, and the build container's agent copies
// it to its own container log (replayPrepare).
func PrepareInShipper(ctx context.Context, o Options) int {
	o.defaults()
	done := filepath.Join(o.TraceDir, jobpod.TracePrepared)
	if fileExists(done) {
		return 0
	}
	o.TerminationLog = filepath.Join(o.TraceDir, jobpod.TracePrepareFailure)
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	Prepare(ctx, o)
	if err := os.WriteFile(done, nil, 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "record that prepare is over: %v\n", err)
	}
	return 0
}

// replayPrepare copies prepare's output, the trace file's content when the build container
// starts, to the container log, so that `kubectl logs -c build` shows the whole job as the
// prepare container's log and build's did together.
func (a *agent) replayPrepare() {
	f, err := os.Open(filepath.Join(a.opts.TraceDir, jobpod.TraceLog))
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = io.Copy(a.stdout(), io.LimitReader(f, a.trace.size))
}

// prepareOutcome is how prepare ended when the shipper's hook ran it: finished, with its
// Failure if it failed; or not finished at all.
func prepareOutcome(traceDir string) (f *jobpod.Failure, finished bool) {
	if !fileExists(filepath.Join(traceDir, jobpod.TracePrepared)) {
		return nil, false
	}
	b, err := os.ReadFile(filepath.Join(traceDir, jobpod.TracePrepareFailure))
	if errors.Is(err, os.ErrNotExist) {
		return nil, true
	}
	if pf, ok := jobpod.ParseFailure(b); ok {
		return &pf, true
	}
	if err == nil {
		err = errors.New("not a failure record")
	}
	return &jobpod.Failure{Reason: string(jobspec.RunnerSystemFailure),
		Message: fmt.Sprintf("the job's prepare step failed and its reason cannot be read: %v", err)}, true
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
