package trace

import (
	"bytes"
	"fmt"
	"testing"
)

// benchLog is 32 KiB of build output in which a few lines carry secrets and tokens.
func benchLog() []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < 32<<10; i++ {
		switch i % 50 {
		case 7:
			fmt.Fprintf(&b, "Authenticating with s3cr3t-password-1 to the registry %d\n", i)
		case 23:
			fmt.Fprintf(&b, "curl -H 'PRIVATE-TOKEN: glpat-xY7_abcdefghijklmnop' https://gitlab.example/api/v4/%d\n", i)
		default:
			fmt.Fprintf(&b, "[%05d] compiling package example.com/module/pkg%d ... ok (elapsed 0.%03ds)\n", i, i, i%1000)
		}
	}
	return b.Bytes()[:32<<10]
}

func BenchmarkWrite(b *testing.B) {
	masks := []string{"s3cr3t-password-1", "AKIAIOSFODNN7EXAMPLE", "glcbt-64_jobtokenvalue0123", "hunter2hunter2", "db:pass/ZXhhbXBsZQ=="}
	for _, bc := range []struct {
		name  string
		masks []string
	}{
		{"5masks", masks},
		{"nomasks", nil},
	} {
		b.Run(bc.name, func(b *testing.B) {
			chunk := benchLog()
			dir := b.TempDir()
			open := func() *Buffer {
				buf, err := New(Options{Masks: bc.masks, TokenPrefixes: []string{"glcbt-", "glrt-"}, Dir: dir})
				if err != nil {
					b.Fatal(err)
				}
				return buf
			}
			buf := open()
			b.SetBytes(int64(len(chunk)))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if i%2048 == 2047 { // start a new file every 64 MiB to spare the shared disk
					b.StopTimer()
					buf.Close()
					buf = open()
					b.StartTimer()
				}
				if _, err := buf.Write(chunk); err != nil {
					b.Fatal(err)
				}
			}
			buf.Close()
		})
	}
}
