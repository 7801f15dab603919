package executor

import (
	"context"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kuberunner/kuberunner/executor/jobpod"
	"github.com/kuberunner/kuberunner/jobspec"
)

const (
	dead     = "kuberunner-7d9f8-ddddd" // a replica that died or left, with a pod running
	claimant = "kuberunner-7d9f8-zzzzz" // a replica that claimed dead's Lease
)

// claimLease is dead's Lease as adopter claimed it, renewed at renewed, for the pods made
// before cutoff.
func claimLease(of, by string, renewed, cutoff time.Time) *coordinationv1.Lease {
	l := replicaLease(of, renewed)
	l.Spec.HolderIdentity = ptr(by)
	l.Annotations = map[string]string{annotationAdoptBefore: cutoff.UTC().Format(time.RFC3339Nano)}
	return l
}

// replicaSet is several replicas of runner r1 on one fake API, each adopting.
type replicaSet struct {
	t      *testing.T
	client *fake.Clientset
	reps   []*harness
	got    []<-chan adopted
	stale  *staleLeases
}

func newReplicaSet(t *testing.T, identities []string, objects ...runtime.Object) *replicaSet {
	t.Helper()
	s := &replicaSet{t: t, client: newFakeAPI(t, objects...), stale: &staleLeases{}}
	s.client.PrependReactor("list", "leases", s.stale.react)
	for _, id := range identities {
		s.reps = append(s.reps, newHarnessOn(t, s.client, Options{UnschedulableTimeout: time.Minute,
			Identity: id, AdoptInterval: 10 * time.Millisecond}))
	}
	return s
}

// leftPod is a pod of manager that every replica's informer has seen.
func (s *replicaSet) leftPod(manager string) *corev1.Pod {
	s.t.Helper()
	pod := s.reps[0].leftPodOf(manager)
	for _, h := range s.reps {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			if _, err := h.exec.pods.Get(pod.Name); err == nil {
				break
			}
			if time.Now().After(deadline) {
				s.t.Fatal("an informer did not see the pod")
			}
		}
	}
	return pod
}

func (s *replicaSet) adopt() {
	for _, h := range s.reps {
		s.got = append(s.got, h.adopt())
	}
}

// passes waits until the replicas listed the Leases n more times: adoption passes that
// judged a pod of another replica.
func (s *replicaSet) passes(n int) {
	s.t.Helper()
	h := s.reps[0]
	for want, deadline := h.leaseLists()+n, time.Now().Add(10*time.Second); h.leaseLists() < want; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			s.t.Fatal("no adoption passes")
		}
	}
}

// followers are the replicas that follow pod.
func (s *replicaSet) followers(pod *corev1.Pod) []int {
	var in []int
	for i, h := range s.reps {
		if h.exec.feeds.get(pod.Name) != nil {
			in = append(in, i)
		}
	}
	return in
}

// oneAdopter waits until a replica adopted pod, lets the others make passes, and checks
// that it stayed the only one and holds manager's Lease.
func (s *replicaSet) oneAdopter(pod *corev1.Pod, manager string) int {
	s.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); len(s.followers(pod)) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			s.t.Fatal("nobody adopted the pod")
		}
	}
	// The losers' passes list the Leases; with every replica following, none would.
	want := s.reps[0].leaseLists() + 3*len(s.reps)
	for deadline := time.Now().Add(5 * time.Second); s.reps[0].leaseLists() < want && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	in := s.followers(pod)
	if len(in) != 1 {
		s.t.Fatalf("replicas %v follow the pod, want one", in)
	}
	if holder := holderOf(s.lease(manager)); holder != s.reps[in[0]].exec.pc.Manager {
		s.t.Errorf("%s's Lease is held by %q, not by its adopter", manager, holder)
	}
	return in[0]
}

func (s *replicaSet) lease(manager string) *coordinationv1.Lease {
	s.t.Helper()
	l, err := direct(s.client).CoordinationV1().Leases("ci").Get(context.Background(), LeaseName("r1", manager), metav1.GetOptions{})
	if err != nil {
		s.t.Fatalf("%s's Lease: %v", manager, err)
	}
	return l
}

// setLease changes manager's Lease as a replica would, with the resourceVersion it read.
func (s *replicaSet) setLease(manager string, change func(*coordinationv1.Lease)) {
	s.t.Helper()
	l := s.lease(manager)
	change(l)
	if _, err := direct(s.client).CoordinationV1().Leases("ci").Update(context.Background(), l, metav1.UpdateOptions{}); err != nil {
		s.t.Fatal(err)
	}
}

// staleLeases answers lists of the Leases with a snapshot while it has answers left.
type staleLeases struct {
	mu   sync.Mutex
	list *coordinationv1.LeaseList
	left int
}

func (st *staleLeases) react(k8stesting.Action) (bool, runtime.Object, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.left == 0 {
		return false, nil, nil
	}
	st.left--
	return true, st.list.DeepCopy(), nil
}

// raceForLeases answers the next n lists of the Leases as the Leases are now, so that
// the replicas' next passes all read them before any of them wrote: the API server alone
// must pick one winner among their claims.
func (s *replicaSet) raceForLeases(n int) {
	s.t.Helper()
	now, err := direct(s.client).CoordinationV1().Leases("ci").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		s.t.Fatal(err)
	}
	s.stale.mu.Lock()
	defer s.stale.mu.Unlock()
	s.stale.list, s.stale.left = now, n
}

func expire(l *coordinationv1.Lease) {
	l.Spec.RenewTime = &metav1.MicroTime{Time: time.Now().Add(-time.Minute)}
}

// waitLeaseGone waits until manager's Lease is deleted.
func (s *replicaSet) waitLeaseGone(manager string) {
	s.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		_, err := direct(s.client).CoordinationV1().Leases("ci").Get(context.Background(), LeaseName("r1", manager), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s's Lease is still there: %v", manager, err)
		}
	}
}

// TestOneAdopterPerDeadReplica: three replicas race for the pod of a replica that died
// (its Lease expired), left (it deleted its Lease), or whose adopter died in turn (the
// claim expired). While the Lease or the claim is fresh nobody adopts; then exactly one
// replica does, the others never do, and the adopter deletes the claim once the pod is gone.
func TestOneAdopterPerDeadReplica(t *testing.T) {
	tests := []struct {
		name  string
		fresh *coordinationv1.Lease
		end   func(s *replicaSet)
	}{
		{"died", replicaLease(dead, time.Now()), func(s *replicaSet) { s.setLease(dead, expire) }},
		{"left", replicaLease(dead, time.Now()), func(s *replicaSet) {
			if err := direct(s.client).CoordinationV1().Leases("ci").Delete(context.Background(), LeaseName("r1", dead), metav1.DeleteOptions{}); err != nil {
				s.t.Fatal(err)
			}
		}},
		{"adopter died", claimLease(dead, claimant, time.Now(), time.Now()), func(s *replicaSet) { s.setLease(dead, expire) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newReplicaSet(t, []string{us, other, "kuberunner-7d9f8-ccccc"}, tt.fresh)
			pod := s.leftPod(dead)
			s.adopt()
			s.passes(3 * len(s.reps))
			if in := s.followers(pod); len(in) != 0 {
				t.Fatalf("replicas %v adopted the pod while %s's Lease was fresh", in, dead)
			}
			tt.end(s)
			s.raceForLeases(3 * len(s.reps))
			w := s.oneAdopter(pod, dead)
			if tt.name == "adopter died" && !adoptBefore(s.lease(dead)).Equal(adoptBefore(tt.fresh)) {
				t.Errorf("the claim taken over has cutoff %v, want the first claim's %v", adoptBefore(s.lease(dead)), adoptBefore(tt.fresh))
			}
			s.reps[w].endAdopted(pod, s.got[w])
			s.waitLeaseGone(dead)
			for i, got := range s.got {
				select {
				case a := <-got:
					t.Errorf("replica %d adopted too: %+v", i, a.run.res)
				default:
				}
			}
			s.reps[w].assertClean()
		})
	}
}

// TestAdopterExitReleasesItsClaim: an adopter that exits leaves the job to its pod and
// deletes its claim, so that one of the remaining replicas adopts the pod at once.
func TestAdopterExitReleasesItsClaim(t *testing.T) {
	s := newReplicaSet(t, []string{us, other, "kuberunner-7d9f8-ccccc"}, replicaLease(dead, time.Now().Add(-time.Minute)))
	pod := s.leftPod(dead)
	ended := make(chan jobspec.Result, len(s.reps))
	exits := make([]context.CancelCauseFunc, len(s.reps))
	for i, h := range s.reps { // follows this test can end, as the runner does at exit
		ctx, exit := context.WithCancelCause(context.Background())
		exits[i] = exit
		h.exec.Adopt(func(_ *jobspec.Job, _ jobpod.Trace, follow FollowFunc) {
			ended <- follow(ctx, &fakeHandover{}, nil)
		})
	}
	first := s.oneAdopter(pod, dead)
	exits[first](jobspec.ErrLeftToPod)
	s.reps[first].exec.Close()
	<-ended
	rest := &replicaSet{t: t, client: s.client, stale: s.stale, reps: append(s.reps[:first:first], s.reps[first+1:]...)}
	rest.raceForLeases(3 * len(rest.reps))
	rest.oneAdopter(pod, dead)
	rest.reps[0].setStatus(pod, corev1.PodStatus{Phase: corev1.PodSucceeded,
		InitContainerStatuses: []corev1.ContainerStatus{shipperEnded(reported), prepareDone},
		ContainerStatuses:     []corev1.ContainerStatus{terminatedStatus(buildContainer, 0, "Completed", "")}})
	if res := <-ended; !res.Success() {
		t.Errorf("the second adopter's follow: %+v", res)
	}
	rest.waitLeaseGone(dead)
}
