package e2eutil

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLoadImages(t *testing.T) {
	const file = `# written by e2e/cluster/cluster up
KR_REGISTRY=10.213.0.1:5000
KR_IMAGE_BUSYBOX=10.213.0.1:5000/busybox:1.35

KR_IMAGE_BUILDKIT="10.213.0.1:5000/buildkit-rootless:v0.33.1"
`
	tests := []struct {
		name    string
		file    string // contents of images.env; "" means no file
		env     map[string]string
		want    Images
		wantErr bool
	}{
		{
			name: "file only",
			file: file,
			want: Images{
				Registry: "10.213.0.1:5000",
				Busybox:  "10.213.0.1:5000/busybox:1.35",
				Buildkit: "10.213.0.1:5000/buildkit-rootless:v0.33.1",
			},
		},
		{
			name: "environment overrides the file",
			file: file,
			env:  map[string]string{"KR_REGISTRY": "localhost:5001", "KR_IMAGE_KUBERUNNER": "kr:dev"},
			want: Images{
				Registry:   "localhost:5001",
				Busybox:    "10.213.0.1:5000/busybox:1.35",
				Buildkit:   "10.213.0.1:5000/buildkit-rootless:v0.33.1",
				Kuberunner: "kr:dev",
			},
		},
		{
			name: "no file, environment only",
			env:  map[string]string{"KR_REGISTRY": "localhost:5001", "KR_IMAGE_BUSYBOX": "busybox:1.36"},
			want: Images{Registry: "localhost:5001", Busybox: "busybox:1.36"},
		},
		{
			name:    "nothing at all",
			wantErr: true,
		},
		{
			name:    "malformed line",
			file:    "KR_REGISTRY=x\nnot a pair\n",
			wantErr: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, key := range []string{"KR_REGISTRY", "KR_IMAGE_PAUSE", "KR_IMAGE_BUSYBOX", "KR_IMAGE_DEBIAN_GIT", "KR_IMAGE_BUILDKIT", "KR_IMAGE_KUBERUNNER"} {
				t.Setenv(key, "")
				os.Unsetenv(key)
			}
			path := filepath.Join(t.TempDir(), "images.env")
			if tc.file != "" {
				if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			t.Setenv("KR_IMAGES_ENV", path)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}

			got, err := LoadImages()
			if (err != nil) != tc.wantErr {
				t.Fatalf("LoadImages() error = %v, want error: %t", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("LoadImages() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestKubeconfig(t *testing.T) {
	tests := []struct {
		name       string
		kubeconfig string
		state      string
		want       string
	}{
		{"local cluster default", "", "", "/var/lib/kuberunner-e2e/admin.kubeconfig"},
		{"moved state", "", "/srv/kr", "/srv/kr/admin.kubeconfig"},
		{"KUBECONFIG wins", "/home/me/.kube/config", "/srv/kr", "/home/me/.kube/config"},
		{"first of a list", "/a/config" + string(filepath.ListSeparator) + "/b/config", "", "/a/config"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("KUBECONFIG", tc.kubeconfig)
			t.Setenv("KUBERUNNER_E2E_STATE", tc.state)
			if diff := cmp.Diff(tc.want, Kubeconfig()); diff != "" {
				t.Errorf("Kubeconfig() (-want +got):\n%s", diff)
			}
		})
	}
}
