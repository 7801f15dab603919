package executor

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kuberunner/kuberunner/config"
)

// apiCallsFile lists every kind of request the executor made in this package's tests:
// "jobs" for the jobs' namespace (the runner's Role, manifests/base/role.yaml), "deploy"
// for a deploy job's target namespace (manifests/deploy/role.yaml). The manifests tests
// derive the grants the Roles must have from it, so a Role grants what the code calls and
// nothing it does not. TestMain checks it after a full run; -update rewrites it.
const apiCallsFile = "testdata/api-calls.txt"

// jobsNamespaces are the jobs' namespaces of the test configurations (ci, or the default
// when a configuration names none); any other namespace the executor calls into is a
// deploy target.
var jobsNamespaces = []string{"ci", config.DefaultNamespace}

var apiCalls = struct {
	sync.Mutex
	seen map[string]bool
}{seen: map[string]bool{}}

// recorded adds the requests made through c (everything the test's executor did, as
// the fake keeps every action, answered by a reactor or not) to apiCalls when t ends.
func recorded(t testing.TB, c *fake.Clientset) *fake.Clientset {
	t.Cleanup(func() {
		apiCalls.Lock()
		defer apiCalls.Unlock()
		for _, a := range c.Actions() {
			scope := "deploy"
			if slices.Contains(jobsNamespaces, a.GetNamespace()) {
				scope = "jobs"
			}
			verb := a.GetVerb()
			if verb == "delete-collection" { // the fake's spelling of RBAC's verb
				verb = "deletecollection"
			}
			res := a.GetResource().Resource
			if sub := a.GetSubresource(); sub != "" {
				res += "/" + sub
			}
			if g := a.GetResource().Group; g != "" {
				res += "." + g
			}
			apiCalls.seen[fmt.Sprintf("%s %s %s", scope, verb, res)] = true
		}
	})
	return c
}

func TestMain(m *testing.M) {
	code := m.Run()
	// Only a full, passing run has made every call; -run or -skip leaves some out.
	if code == 0 && flag.Lookup("test.run").Value.String() == "" && flag.Lookup("test.skip").Value.String() == "" {
		if err := checkAPICalls(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

func checkAPICalls() error {
	apiCalls.Lock()
	got := slices.Sorted(func(yield func(string) bool) {
		for c := range apiCalls.seen {
			if !yield(c) {
				return
			}
		}
	})
	apiCalls.Unlock()
	header := "# scope verb resource: the executor's requests in its unit tests (go test ./executor -update)\n"
	if *update {
		return os.WriteFile(apiCallsFile, []byte(header+strings.Join(got, "\n")+"\n"), 0o644)
	}
	data, err := os.ReadFile(apiCallsFile)
	if err != nil {
		return err
	}
	var want []string
	for _, line := range strings.Split(string(data), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			want = append(want, line)
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		return fmt.Errorf("%s is out of date (-file +calls); run go test ./executor -update and check the Roles:\n%s", apiCallsFile, d)
	}
	return nil
}

// direct is c for the test's own requests (playing the kubelet, another replica, a user,
// or looking at what the executor left): answered by c's reactors, one request at a time
// with the executor's as c answers them, but not among the requests that recorded counts.
func direct(c *fake.Clientset) *fake.Clientset {
	d := &fake.Clientset{}
	d.AddReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		c.Lock()
		defer c.Unlock()
		for _, r := range c.ReactionChain {
			if r.Handles(a) {
				if handled, obj, err := r.React(a); handled {
					return true, obj, err
				}
			}
		}
		return true, nil, nil
	})
	d.AddWatchReactor("*", func(a k8stesting.Action) (bool, watch.Interface, error) {
		c.Lock()
		defer c.Unlock()
		for _, r := range c.WatchReactionChain {
			if r.Handles(a) {
				if handled, w, err := r.React(a); handled {
					return true, w, err
				}
			}
		}
		return true, nil, fmt.Errorf("unhandled watch: %#v", a)
	})
	return d
}
