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

	"github.com/kuberunner/kuberunner/jobspec"
)

// Prepare is `kuberunner step prepare`, run by the init container: it copies the agent into
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
