package pipeline

import (
	"errors"
	"io"
	"net/http"

	"github.com/kuberunner/kuberunner/executor/agent"
)

// cachePath is where local pipelines serve the jobs' cache store.
const cachePath = "/cache/"

// cacheServer is the cache store of local pipelines, so `cache:` works with no volume on
// the cluster: the jobs' agents GET and PUT cachePath<key> (agent.HTTPStore) with their job
// token, and the archives stay in the repository's state directory for the next pipeline.
type cacheServer struct {
	store      agent.DirStore
	authorized func(token string) bool
}

func (c cacheServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !c.authorized(r.Header.Get("JOB-TOKEN")) {
		http.Error(w, "a running job's token is required", http.StatusForbidden)
		return
	}
	key := r.PathValue("key")
	if key == "" {
		http.Error(w, "no cache key", http.StatusBadRequest)
		return
	}
	switch r.Method {
	case http.MethodGet:
		rc, err := c.store.Get(r.Context(), key)
		if errors.Is(err, agent.ErrCacheMiss) {
			http.NotFound(w, r)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer rc.Close()
		w.Header().Set("Content-Type", "application/zip")
		_, _ = io.Copy(w, rc)
	case http.MethodPut:
		if err := c.store.Put(r.Context(), key, r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "GET or PUT", http.StatusMethodNotAllowed)
	}
}
