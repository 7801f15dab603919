package coordinatortest_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/coordinator/coordinatortest"
)

func TestStartServesOnLoopback(t *testing.T) {
	s, base := coordinatortest.Start(t, coordinator.Options{})
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Errorf("base URL %q is not on loopback", base)
	}
	token := s.AddRunner(coordinator.RunnerSpec{RunUntagged: true})
	body := strings.NewReader(`{"token":"` + token + `","system_id":"s_0123456789ab"}`)
	resp, err := http.Post(base+"/api/v4/runners/verify", "application/json", body)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("verify status = %d, want 200", resp.StatusCode)
	}
}

// A job request parked in its long poll must not hold up the end of the test.
func TestCleanupAnswersParkedRequests(t *testing.T) {
	done := make(chan int, 1)
	t.Run("inner", func(t *testing.T) {
		s, base := coordinatortest.Start(t, coordinator.Options{LongPoll: time.Hour})
		token := s.AddRunner(coordinator.RunnerSpec{RunUntagged: true})
		go func() {
			resp, err := http.Post(base+"/api/v4/jobs/request", "application/json",
				strings.NewReader(`{"token":"`+token+`"}`))
			if err != nil {
				done <- -1
				return
			}
			resp.Body.Close()
			done <- resp.StatusCode
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.WaitRequests(ctx, 1); err != nil {
			t.Fatal(err)
		}
	})
	select {
	case code := <-done:
		if code != http.StatusNoContent {
			t.Errorf("parked request answered %d, want 204", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("parked request still waiting after cleanup")
	}
}
