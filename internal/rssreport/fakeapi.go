package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/kubernetes/scheme"
)

// fakeAPI is just enough of a Kubernetes API server for an idle runner: collections are
// empty, named objects are not found, watches stay open with nothing to say, and what is
// created or updated (the replica's Lease) is echoed back as stored.
type fakeAPI struct {
	n      atomic.Int64
	closed chan struct{}
}

func newFakeAPI() *fakeAPI { return &fakeAPI{closed: make(chan struct{})} }

func (a *fakeAPI) requests() int64 { return a.n.Load() }

// close ends the open watches, so that the HTTP server's Close does not wait for them.
func (a *fakeAPI) close() { close(a.closed) }

func (a *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.n.Add(1)
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.URL.Query().Get("watch") == "true":
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-a.closed:
		}
	case r.Method == http.MethodGet && isCollection(r.URL.Path):
		_, _ = io.WriteString(w, `{"metadata":{"resourceVersion":"1"},"items":[]}`)
	case r.Method == http.MethodGet:
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`)
	case r.Method == http.MethodPost || r.Method == http.MethodPut:
		// client-go sends built-in types as protobuf; it reads JSON answers as well.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(body, nil, nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if m, err := meta.Accessor(obj); err == nil {
			m.SetResourceVersion("1")
		}
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusCreated)
		}
		_ = json.NewEncoder(w).Encode(obj)
	default: // DELETE, PATCH
		_, _ = io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Success"}`)
	}
}

// isCollection tells /api/v1/namespaces/ci/pods from /api/v1/namespaces/ci/pods/name.
func isCollection(path string) bool {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i, p := range parts {
		if p == "namespaces" && i+2 < len(parts) {
			return len(parts) == i+3
		}
	}
	return true
}
