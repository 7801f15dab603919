package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kuberunner/kuberunner/internal/testio"
)

// memory is what /proc/PID/status says of a process's resident memory, in MiB: RssFile is
// the binary's (and other files') pages, RssAnon the heap, stacks and written data.
type memory struct{ VmRSS, RssAnon, RssFile float64 }

// process is a started kuberunner with its output kept for errors.
type process struct {
	cmd  *exec.Cmd
	out  *testio.Buffer
	done chan struct{}
}

func start(bin string, args ...string) (*process, error) {
	p := &process{cmd: exec.Command(bin, args...), out: &testio.Buffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop ends the process as a Deployment would (SIGTERM), then for good.
func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *process) output() string { return p.out.String() }

func (p *process) memory() (memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return memory{}, err
	}
	defer f.Close()
	var m memory
	fields := map[string]*float64{"VmRSS:": &m.VmRSS, "RssAnon:": &m.RssAnon, "RssFile:": &m.RssFile}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		kv := strings.Fields(sc.Text()) // "VmRSS:   43336 kB"
		if dst, ok := fields[kv[0]]; ok && len(kv) == 3 {
			kb, err := strconv.ParseFloat(kv[1], 64)
			if err != nil {
				return memory{}, fmt.Errorf("/proc status %s: %w", kv[0], err)
			}
			*dst = kb / 1024
		}
	}
	return m, sc.Err()
}

func mkfifo(path string) error {
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		return fmt.Errorf("mkfifo %s: %w", path, err)
	}
	return nil
}

var errNoReader = errors.New("no reader on the FIFO yet")

func openWriter(fifo string) (*os.File, error) {
	f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ENXIO) {
		return nil, errNoReader
	}
	return f, err
}
