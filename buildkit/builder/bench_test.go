package builder

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// BenchmarkBuildCold: every build runs every step (--no-cache; the shared daemon's cache is
// not pruned), pushing the image and the registry cache as a job does.
func BenchmarkBuildCold(b *testing.B) {
	d := testDaemon(b)
	dir := d.writeContext(b, strconv.FormatInt(time.Now().UnixNano(), 10))
	o := d.options(dir, d.repo(b)+":tmp", nil)
	o.NoCache = true
	for b.Loop() {
		if _, err := Build(context.Background(), o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuildCached: an unchanged context, every step a cache hit.
func BenchmarkBuildCached(b *testing.B) {
	d := testDaemon(b)
	dir := d.writeContext(b, strconv.FormatInt(time.Now().UnixNano(), 10))
	o := d.options(dir, d.repo(b)+":tmp", nil)
	if _, err := Build(context.Background(), o); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Build(context.Background(), o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuildOneFileChange: b.txt changes before each build; a.txt's layers stay cached.
func BenchmarkBuildOneFileChange(b *testing.B) {
	d := testDaemon(b)
	dir := d.writeContext(b, strconv.FormatInt(time.Now().UnixNano(), 10))
	o := d.options(dir, d.repo(b)+":tmp", nil)
	if _, err := Build(context.Background(), o); err != nil {
		b.Fatal(err)
	}
	n := 0
	for b.Loop() {
		n++
		b.StopTimer()
		if err := os.WriteFile(filepath.Join(dir, "b.txt"), []byte(fmt.Sprintf("change %d %d\n", n, time.Now().UnixNano())), 0o644); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := Build(context.Background(), o); err != nil {
			b.Fatal(err)
		}
	}
}
