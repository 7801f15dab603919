package manifests

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// BaseDir is the kustomize base inside FS.
const BaseDir = "base"

// strict refuses unknown and duplicate fields, so a misspelt key (readOnlyRootFileSystem)
// is an error instead of a setting that silently does nothing.
var strict = serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()

// Kustomization is the part of a kustomization.yaml this package reads.
type Kustomization struct {
	Resources []string `json:"resources"`
}

// ReadKustomization reads dir/kustomization.yaml from FS.
func ReadKustomization(dir string) (Kustomization, error) {
	var k Kustomization
	name := path.Join(dir, "kustomization.yaml")
	data, err := FS.ReadFile(name)
	if err != nil {
		return k, err
	}
	if err := yaml.Unmarshal(data, &k); err != nil {
		return k, fmt.Errorf("%s: %w", name, err)
	}
	return k, nil
}

// Base decodes the objects of base/ in the order kustomization.yaml lists them, as typed
// objects (*corev1.Namespace, *rbacv1.Role, *appsv1.Deployment, ...). They are the files
// as written, before kustomize: the image is still kuberunner:dev.
func Base() ([]runtime.Object, error) {
	k, err := ReadKustomization(BaseDir)
	if err != nil {
		return nil, err
	}
	var objs []runtime.Object
	for _, r := range k.Resources {
		name := path.Join(BaseDir, r)
		data, err := FS.ReadFile(name)
		if err != nil {
			return nil, err
		}
		o, err := Decode(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		objs = append(objs, o...)
	}
	return objs, nil
}

// Decode decodes every document of a YAML stream into a typed object, refusing unknown fields.
func Decode(data []byte) ([]runtime.Object, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []runtime.Object
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		o, _, err := strict.Decode(doc, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		objs = append(objs, o)
	}
}

// stripComments drops whole-line comments, to tell a document of comments only from an object.
func stripComments(doc []byte) []byte {
	var out []byte
	for line := range bytes.Lines(doc) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(out, line...)
		}
	}
	return out
}

// Role is the runner's Role, base/role.yaml.
func Role() (*rbacv1.Role, error) { return roleIn(path.Join(BaseDir, "role.yaml")) }

// DeployRole is the Role a deploy target namespace grants the runner, deploy/role.yaml.
func DeployRole() (*rbacv1.Role, error) { return roleIn(path.Join("deploy", "role.yaml")) }

// roleIn decodes the one Role of a manifest file (other objects, such as its binding, may
// be beside it).
func roleIn(name string) (*rbacv1.Role, error) {
	data, err := FS.ReadFile(name)
	if err != nil {
		return nil, err
	}
	objs, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var roles []*rbacv1.Role
	for _, o := range objs {
		if r, ok := o.(*rbacv1.Role); ok {
			roles = append(roles, r)
		}
	}
	if len(roles) != 1 {
		return nil, fmt.Errorf("%s: %d Roles, want one", name, len(roles))
	}
	return roles[0], nil
}
