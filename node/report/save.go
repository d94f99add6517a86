package report

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// File names written by Save.
const (
	HTMLFile = "report.html"
	JSONFile = "report.json"
)

// Save writes dir/report.html and dir/report.json (creating dir if needed),
// each through a temporary file renamed into place, and returns their paths.
func Save(dir string, r *Report) (htmlPath, jsonPath string, err error) {
	var h, j bytes.Buffer
	if err := WriteHTML(&h, r); err != nil {
		return "", "", err
	}
	if err := WriteJSON(&j, r); err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("report: create %s: %w", dir, err)
	}
	htmlPath, jsonPath = filepath.Join(dir, HTMLFile), filepath.Join(dir, JSONFile)
	if err := writeAtomic(htmlPath, h.Bytes()); err != nil {
		return "", "", err
	}
	if err := writeAtomic(jsonPath, j.Bytes()); err != nil {
		return "", "", err
	}
	return htmlPath, jsonPath, nil
}

func writeAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("report: write %s: %w", path, err)
	}
	return nil
}
