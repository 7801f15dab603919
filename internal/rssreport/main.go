// Command rssreport measures the resident memory of a built kuberunner binary without a
// cluster (`make rss-report`), for the "under 40 MiB idle" target: what package
// initialisation alone costs, and what `kuberunner run` holds idle with one runner polling
// an in-process coordinator and watching a fake Kubernetes API server. Most of an idle
// runner's memory is the binary's own pages that initialisation touches (RssFile), so both
// numbers move with what the binary links, not with its heap.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

func main() {
	bin := flag.String("bin", "./kuberunner", "the kuberunner binary to measure")
	idle := flag.Duration("idle", 10*time.Second, "how long `run` idles before it is measured")
	verbose := flag.Bool("v", false, "print the idle runner's log")
	flag.Parse()
	if err := report(*bin, *idle, *verbose); err != nil {
		fmt.Fprintf(os.Stderr, "rssreport: %v\n", err)
		os.Exit(1)
	}
}

func report(bin string, idle time.Duration, verbose bool) error {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	fi, err := os.Stat(bin)
	if err != nil {
		return fmt.Errorf("binary: %w (build it first: make build)", err)
	}
	dir, err := os.MkdirTemp("", "kr-rssreport-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	initMem, err := measureInit(bin, dir)
	if err != nil {
		return fmt.Errorf("package init: %w", err)
	}
	idleMem, err := measureIdle(bin, dir, idle, verbose)
	if err != nil {
		return fmt.Errorf("idle run: %w", err)
	}
	fmt.Printf("binary %s: %.1f MiB\n", bin, float64(fi.Size())/(1<<20))
	fmt.Printf("%-28s %8s %8s %8s\n", "MiB", "VmRSS", "RssAnon", "RssFile")
	for _, r := range []struct {
		name string
		m    memory
	}{{"package init (run, blocked)", initMem}, {fmt.Sprintf("run, idle %v", idle), idleMem}} {
		fmt.Printf("%-28s %8.1f %8.1f %8.1f\n", r.name, r.m.VmRSS, r.m.RssAnon, r.m.RssFile)
	}
	return nil
}

// measureInit starts `run` with a FIFO for its configuration: it blocks opening it after
// every package has initialised and the flags are parsed, before it does any work. A
// non-blocking open for writing succeeds only once the reader is there.
func measureInit(bin, dir string) (memory, error) {
	fifo := filepath.Join(dir, "config.fifo")
	if err := mkfifo(fifo); err != nil {
		return memory{}, err
	}
	p, err := start(bin, "run", "--config", fifo)
	if err != nil {
		return memory{}, err
	}
	defer p.stop()
	deadline := time.Now().Add(30 * time.Second)
	for {
		w, err := openWriter(fifo)
		if err == nil {
			m, merr := p.memory()
			w.Close() // the runner reads an empty file and exits
			return m, merr
		}
		if !errors.Is(err, errNoReader) {
			return memory{}, err
		}
		if p.exited() || time.Now().After(deadline) {
			return memory{}, fmt.Errorf("%s never opened its configuration: %s", bin, p.output())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
