package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kuberunner/kuberunner/executor/jobpod"
	"github.com/kuberunner/kuberunner/jobspec"
	"github.com/kuberunner/kuberunner/trace"
)

// cleanupTimeout bounds waiting for a deleted pod to disappear, beyond its grace period.
const cleanupTimeout = 30 * time.Second

// shipperTimeout bounds waiting for the pod's shipper to deliver the rest of the trace and
// stop, beyond the pod's grace period.
const shipperTimeout = 30 * time.Second

// ShipperGrace is what a job pod's grace period adds to the graceful cancel timeout: the
// trace shipper stops last, and needs the time to deliver the end of the log and the final
// state while GitLab is slow or down. It exits as soon as it is done, so the pod does not
// linger for it otherwise; a kill at the end of the grace period loses the log's end.
const ShipperGrace = 5 * time.Minute

// podGrace is the job pod's grace period: after_script's time, then the shipper's.
func (pc *PodConfig) podGrace() time.Duration { return pc.GracefulCancel + ShipperGrace }

// errIncompleteTrace fails a job whose script succeeded but whose log did not all reach
// GitLab: a job is never reported a success with part of its log missing.
var errIncompleteTrace = errors.New("part of the job's log may not have reached GitLab: the pod's trace shipper stopped before it delivered everything (GitLab unreachable for longer than the pod's grace period, or the shipper was killed)")

// Run runs job as one pod and returns how it ended; see runner.Executor. The pod and its
// Secret are gone when Run returns, whatever happened.
func (k *Kubernetes) Run(ctx context.Context, job *jobspec.Job, log io.Writer, graceful <-chan struct{}) jobspec.Result {
	j := &jobRun{k: k, pc: k.jobs.Load(), job: job, log: log}
	return j.run(ctx, graceful)
}

// jobRun is one job's pod from creation to deletion.
type jobRun struct {
	k    *Kubernetes
	pc   *PodConfig // as when the job started: a reload changes only later jobs
	job  *jobspec.Job
	log  io.Writer // the job log, also its TraceHandover; written from the Run goroutine only
	objs *JobObjects
	pod  *corev1.Pod // as created
}

func (j *jobRun) run(ctx context.Context, graceful <-chan struct{}) jobspec.Result {
	objs, err := BuildJob(j.job, *j.pc)
	j.section("prepare_executor", `Preparing the "kubernetes" executor`, func() {
		j.printf("Using Kubernetes namespace: %s\n", j.pc.Namespace)
		if objs != nil {
			j.describe(objs)
		}
	})
	if err != nil {
		// Nothing of the job ran: never a script_failure, whoever is to blame.
		return jobspec.Result{Reason: jobspec.RunnerConfigurationError, Err: err}
	}
	j.objs = objs
	pod := objs.Pod
	feed := j.k.feeds.subscribe(pod.Name)
	defer j.k.feeds.unsubscribe(pod.Name)

	j.printf("%sPreparing environment%s\n", trace.ANSIBoldCyan, trace.ANSIReset)
	h, ok := j.log.(TraceHandover)
	if !ok {
		return jobspec.Result{Reason: jobspec.RunnerSystemFailure, Err: errors.New("the job log cannot be handed to the pod")}
	}
	handed, err := h.Handover(ctx)
	if err == nil {
		err = setTrace(objs.Secret, handed)
	}
	if err != nil {
		return j.takeBack(ctx, h, handed, jobspec.Result{Reason: jobspec.RunnerSystemFailure, Err: err})
	}
	created, err := createJobObjects(ctx, j.k.client, objs, j.k.api)
	if err != nil {
		return j.takeBack(ctx, h, handed, jobspec.Result{Reason: jobspec.RunnerSystemFailure, Err: err})
	}
	j.pod = created
	j.printf("Created pod %s/%s\n", created.Namespace, created.Name)
	return j.follow(ctx, feed, h, handed, graceful)
}

// follow watches the job's pod to the end, lets its shipper finish, takes the trace back
// unless the pod reported, and cleans up. A job left to its pod is left as it is.
func (j *jobRun) follow(ctx context.Context, feed *podFeed, h TraceHandover, handed jobpod.Trace, graceful <-chan struct{}) jobspec.Result {
	res, _ := j.wait(ctx, feed, graceful)
	if errors.Is(res.Err, jobspec.ErrLeftToPod) {
		return res
	}
	st, known := jobpod.ShipperState{Offset: handed.Offset, CRC: handed.CRC}, false
	if ctx.Err() == nil { // an aborted job's pod is deleted at once: its shipper's state is lost
		st, known = j.shipperEnd(feed, st)
	}
	if st.Reported || st.Gone {
		h.Reported(st)
	} else if err := h.Resume(context.WithoutCancel(ctx), st, known); err != nil {
		res = jobspec.Result{Reason: jobspec.RunnerSystemFailure, Err: err}
	} else if res.Success() && !(known && st.Complete) {
		res = jobspec.Result{Reason: jobspec.RunnerSystemFailure, Err: errIncompleteTrace}
	}
	if err := j.cleanup(feed); err != nil {
		j.warnf("cleanup: %v", err)
		if res.Success() {
			res = jobspec.Result{Reason: jobspec.RunnerSystemFailure, Err: err}
		}
	}
	return res
}

// takeBack resumes the trace where the runner left it: no pod ever shipped a byte.
func (j *jobRun) takeBack(ctx context.Context, h TraceHandover, t jobpod.Trace, res jobspec.Result) jobspec.Result {
	if err := h.Resume(context.WithoutCancel(ctx), jobpod.ShipperState{Offset: t.Offset, CRC: t.CRC}, t.Offset > 0); err != nil {
		return jobspec.Result{Reason: jobspec.RunnerSystemFailure, Err: errors.Join(res.Err, err)}
	}
	return res
}

// wait follows the pod's state to the job's outcome; ended says the pod's containers ended
// by themselves, so their logs end too.
func (j *jobRun) wait(ctx context.Context, feed *podFeed, graceful <-chan struct{}) (jobspec.Result, bool) {
	// From the pod's creation: an adopted pod has been running for a while.
	start := j.pod.CreationTimestamp.Time
	if start.IsZero() {
		start = time.Now()
	}
	deadline := time.NewTimer(time.Until(start.Add(j.timeout())))
	defer deadline.Stop()
	var unschedulable <-chan time.Time
	var unschedMsg, lastStatus string
	canceling := false
	services := newServiceWatch(j, j.pc.ServiceWait)
	defer services.stop()
	stopped := "" // why someone else is stopping the pod
	for {
		pod, gone, changed := feed.snapshot()
		if pod != nil && !canceling && stopped == "" {
			if stopped = disruption(pod); stopped != "" {
				j.warnf("%s; the job fails as a system failure once pod %s ends", stopped, j.pod.Name)
			}
		}
		switch {
		case gone && canceling:
			return jobspec.Result{Reason: jobspec.ScriptFailure, Err: errors.New("the job was canceled")}, false
		case gone && stopped != "":
			return jobspec.Result{Reason: jobspec.RunnerSystemFailure, Err: errors.New(stopped)}, false
		case gone:
			return jobspec.Result{Reason: jobspec.RunnerSystemFailure, Err: fmt.Errorf("pod %s was deleted by someone else", j.pod.Name)}, false
		case pod != nil:
			v := judge(pod)
			if v.done {
				switch {
				case canceling && v.res.Success():
					v.res = jobspec.Result{Reason: jobspec.ScriptFailure, Err: errors.New("the job was canceled")}
				case !canceling && stopped != "":
					v.res = disrupted(v.res, stopped)
				}
				return v.res, v.res.Reason != jobspec.ImagePullFailure
			}
			if v.status != lastStatus && pod.Status.Phase == corev1.PodPending {
				j.printf("Waiting for pod %s/%s to be running, status is %s\n", pod.Namespace, pod.Name, v.status)
			}
			lastStatus = v.status
			unschedMsg = v.unschedulable
			services.observe(ctx, pod)
			if unschedMsg != "" && unschedulable == nil {
				t := time.NewTimer(j.k.unsched)
				defer t.Stop()
				unschedulable = t.C
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			if cause := context.Cause(ctx); errors.Is(cause, jobspec.ErrLeftToPod) {
				return jobspec.Result{Reason: jobspec.RunnerSystemFailure, Err: cause}, false
			}
			j.warnf("Job aborted: deleting pod %s at once", j.pod.Name)
			return jobspec.Result{Reason: jobspec.RunnerSystemFailure, Err: fmt.Errorf("job aborted: %w", context.Cause(ctx))}, false
		case <-graceful:
			graceful, canceling = nil, true
			j.warnf("Job canceled: stopping pod %s (grace period %s); after_script runs", j.pod.Name, j.pc.GracefulCancel)
			if err := deletePod(j.k.client, j.pod, j.pc.podGrace()); err != nil {
				return jobspec.Result{Reason: jobspec.RunnerSystemFailure, Err: err}, false
			}
		case <-unschedulable:
			if unschedMsg == "" {
				unschedulable = nil // it got a node meanwhile
				continue
			}
			return jobspec.Result{Reason: jobspec.RunnerSystemFailure,
				Err: fmt.Errorf("the pod could not be scheduled within %s: %s", j.k.unsched, unschedMsg)}, false
		case <-services.expired():
			pod, _, _ := feed.snapshot()
			if pod == nil || buildStarted(pod) || services.recovered(pod) {
				services.done()
				continue
			}
			return jobspec.Result{Reason: jobspec.RunnerSystemFailure, Err: services.failure(pod)}, false
		case <-deadline.C:
			return jobspec.Result{Reason: jobspec.JobExecutionTimeout,
				Err: fmt.Errorf("the job ran longer than %s", j.timeout())}, false
		}
	}
}

// timeout is the job's timeout plus the margin for after_script and uploads: the same as the
// pod's activeDeadlineSeconds, a backstop should the kubelet not enforce it.
func (j *jobRun) timeout() time.Duration {
	t := time.Duration(j.job.RunnerInfo.Timeout) * time.Second
	if t <= 0 {
		t = defaultJobTimeout * time.Second
	}
	return t + j.pc.DeadlineMargin
}

// cleanup deletes the pod at once (the job is over; a graceful delete under way is cut short:
// its build container ended, only services are left), the Secret and any deploy access
// (the token dies with the Secret it is bound to), and waits for the
// informer to confirm the pod is gone. It does not use the job's context: an aborted job
// must still be cleaned up.
func (j *jobRun) cleanup(feed *podFeed) error {
	errs := []error{deletePod(j.k.client, j.pod, 0), deleteSecret(j.k.client, j.objs.Secret),
		deleteDeployObjects(j.k.client, j.objs)}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	for {
		_, gone, changed := feed.snapshot()
		if gone {
			break
		}
		select {
		case <-changed:
			continue
		case <-ctx.Done():
		}
		// No delete event (a missed watch window): ask the API server.
		errs = append(errs, confirmGone(j.k.client, j.pod))
		break
	}
	return errors.Join(errs...)
}

// confirmGone asks the API server whether a deleted pod is gone, when its informer has not
// said so within cleanupTimeout.
func confirmGone(c Client, pod *corev1.Pod) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		return fmt.Errorf("pod %s still exists %s after its deletion", pod.Name, cleanupTimeout)
	}
	return nil
}

// describe says what the job gets, before anything is created.
func (j *jobRun) describe(o *JobObjects) {
	j.printf("Using Kubernetes executor with image %s ...\n", o.Pod.Spec.Containers[0].Image)
	for _, c := range o.Pod.Spec.InitContainers {
		if c.Name == buildKitContainer {
			j.printf("Using rootless BuildKit with image %s (%s=%s)\n", c.Image, "BUILDKIT_HOST", buildKitAddr)
		}
	}
	if rb := o.RoleBinding; rb != nil {
		j.printf("Granting this job cluster role %s in namespace %s until it ends\n", rb.RoleRef.Name, rb.Namespace)
	}
}

func (j *jobRun) section(name, header string, fn func()) {
	j.printf("%s", trace.SectionStart(name, trace.ANSIBoldCyan+header+trace.ANSIReset, false))
	fn()
	j.printf("%s", trace.SectionEnd(name))
}

func (j *jobRun) printf(format string, args ...any) { fmt.Fprintf(j.log, format, args...) }

func (j *jobRun) warnf(format string, args ...any) {
	j.printf(trace.ANSIBoldYellow+"WARNING: "+format+trace.ANSIReset+"\n", args...)
}
