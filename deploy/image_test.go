package deploy

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loadtest/loadtest/internal/testtools"
)

// TestImage builds the container image as `make image` does (podman, FROM scratch; this
// machine can build images but not run containers) and checks what a runtime will get: a
// non-root user, the version labels, the three binaries static and executable, a writable
// /tmp, the default configs and the CA certificates, and nothing else.
func TestImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries and an image")
	}
	podman := testtools.Require(t, "podman", "podman")
	tag := "loadtest:test-image"
	make := exec.Command("make", "-C", "..", "image", "IMAGE="+tag, "CONTAINER="+podman, "VERSION=v9.9.9-test")
	if out, err := make.CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, out)
	}
	defer exec.Command(podman, "rmi", "-f", tag).Run()
	out, err := exec.Command(podman, "image", "inspect", tag).Output()
	if err != nil {
		t.Fatal(err)
	}
	var img []struct {
		Config struct {
			User       string
			Env        []string
			WorkingDir string
			Labels     map[string]string
		}
	}
	if err := json.Unmarshal(out, &img); err != nil || len(img) != 1 {
		t.Fatalf("inspect: %v\n%s", err, out)
	}
	c := img[0].Config
	if c.User != "65532:65532" || c.WorkingDir != "/work" || c.Labels["org.opencontainers.image.version"] != "v9.9.9-test" ||
		len(c.Labels["org.opencontainers.image.revision"]) != 40 {
		t.Errorf("config %+v; want user 65532, /work, the version and the commit in the labels", c)
	}
	tarball := filepath.Join(t.TempDir(), "image.tar")
	if out, err := exec.Command(podman, "save", "--format", "oci-archive", "-o", tarball, tag).CombinedOutput(); err != nil {
		t.Fatalf("podman save: %v\n%s", err, out)
	}
	files := layerFiles(t, tarball)
	for name, mode := range map[string]int64{"usr/local/bin/loadtest": 0o755, "usr/local/bin/coordinator": 0o755, "usr/local/bin/mmsim": 0o755,
		"tmp/": 0o1777, "etc/ssl/certs/ca-certificates.crt": 0, "etc/loadtest/config.default.json": 0, "work/": 0} {
		got, ok := files[name]
		if !ok {
			t.Errorf("the image lacks /%s; it has %v", name, keys(files))
			continue
		}
		if mode != 0 && got&0o7777 != mode {
			t.Errorf("/%s has mode %o; want %o", name, got&0o7777, mode)
		}
	}
}

// layerFiles lists the files of every layer of an OCI archive, with their modes.
func layerFiles(t *testing.T, archive string) map[string]int64 {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("tar", "-xf", archive, "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	files := map[string]int64{}
	blobs, _ := filepath.Glob(filepath.Join(dir, "blobs", "sha256", "*"))
	for _, b := range blobs {
		f, err := os.Open(b)
		if err != nil {
			t.Fatal(err)
		}
		var in io.Reader = f
		if gz, err := gzip.NewReader(f); err == nil { // layers are gzipped; configs are not
			in = gz
		} else {
			_, _ = f.Seek(0, io.SeekStart)
		}
		r := tar.NewReader(in)
		for {
			h, err := r.Next()
			if err != nil {
				break // not a layer (a config or a manifest), or its end
			}
			files[strings.TrimPrefix(h.Name, "./")] = h.Mode
			_, _ = io.Copy(io.Discard, r)
		}
		f.Close()
	}
	return files
}

func keys(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
