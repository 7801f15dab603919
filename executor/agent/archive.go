package agent

import (
	"archive/zip"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// writeZip archives files (relative to root) to w, keeping their modes.
func writeZip(w io.Writer, root string, files []string) error {
	zw := zip.NewWriter(w)
	for _, f := range files {
		if err := addToZip(zw, root, f); err != nil {
			return err
		}
	}
	return zw.Close()
}

func addToZip(zw *zip.Writer, root, name string) error {
	src, err := os.Open(filepath.Join(root, name))
	if err != nil {
		return err
	}
	defer src.Close()
	info, err := src.Stat()
	if err != nil {
		return err
	}
	hdr, err := zip.FileInfoHeader(info)
	if err != nil {
		return err
	}
	hdr.Name, hdr.Method = name, zip.Deflate
	dst, err := zw.CreateHeader(hdr)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		return fmt.Errorf("archive %s: %w", name, err)
	}
	return nil
}

// writeGzip is GitLab's gzip artifact format: one gzip member per file, named after it.
func writeGzip(w io.Writer, root string, files []string) error {
	for _, f := range files {
		src, err := os.Open(filepath.Join(root, f))
		if err != nil {
			return err
		}
		zw := gzip.NewWriter(w)
		zw.Name = f
		_, err = io.Copy(zw, src)
		src.Close()
		if err = errors.Join(err, zw.Close()); err != nil {
			return fmt.Errorf("archive %s: %w", f, err)
		}
	}
	return nil
}

// extractZip unpacks the zip file at path into dir. The archive comes from another job and
// is not trusted: every write goes through an os.Root, so no entry (not even through a link
// in the workspace) lands outside dir, and links in the archive are skipped.
func extractZip(path, dir string) (int, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return 0, err
	}
	defer zr.Close()
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return 0, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return 0, err
	}
	defer root.Close()
	n := 0
	for _, f := range zr.File {
		name := filepath.FromSlash(f.Name)
		if !filepath.IsLocal(name) {
			continue
		}
		mode := f.Mode()
		switch {
		case mode.IsDir():
			if err := root.MkdirAll(name, 0o777); err != nil {
				return n, fmt.Errorf("extract %s: %w", f.Name, err)
			}
		case mode.IsRegular():
			if err := extractFile(root, f, name, mode.Perm()); err != nil {
				return n, fmt.Errorf("extract %s: %w", f.Name, err)
			}
			n++
		}
	}
	return n, nil
}

func extractFile(root *os.Root, f *zip.File, name string, perm os.FileMode) error {
	if dir := filepath.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o777); err != nil {
			return err
		}
	}
	src, err := f.Open()
	if err != nil {
		return err
	}
	defer src.Close()
	// Replace rather than write through: the target may be a link.
	_ = root.Remove(name)
	dst, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm|0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, src)
	return errors.Join(err, dst.Close())
}
