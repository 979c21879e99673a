package mailchimp

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"patchbay/internal/fakes/fakekit"
)

// maxOperations bounds one batch in the fake; Mailchimp documents no exact
// cap but asks for reasonably sized batches.
const maxOperations = 1000

type callKey struct{}

// batch is one batch operation. The fake runs its operations when it is
// created; the first status read says "started", later ones "finished".
type batch struct {
	ID        string
	account   string
	total     int
	errored   int
	submitted time.Time
	completed time.Time
	reads     int
	archive   []byte // gzipped tar of the results
}

type operation struct {
	Method      string            `json:"method"`
	Path        string            `json:"path"`
	Params      map[string]string `json:"params"`
	Body        string            `json:"body"`
	OperationID string            `json:"operation_id"`
}

type opResult struct {
	StatusCode  int    `json:"status_code"`
	OperationID string `json:"operation_id"`
	Response    string `json:"response"`
}

func (f *Fake) createBatch(w http.ResponseWriter, r *http.Request, c fakekit.Call) {
	var in struct {
		Operations []operation `json:"operations"`
	}
	if err := jsonDecode(r, &in); err != nil {
		problem(w, http.StatusBadRequest, "JSON Schema Validation Failed", "The request body is not valid JSON: "+err.Error())
		return
	}
	if len(in.Operations) == 0 || len(in.Operations) > maxOperations {
		problem(w, http.StatusBadRequest, "Invalid Resource", "operations must hold from 1 to 1000 operations.")
		return
	}
	for _, op := range in.Operations {
		if op.Method == "" || !strings.HasPrefix(op.Path, "/") {
			problem(w, http.StatusBadRequest, "Invalid Resource", "every operation needs a method and a path starting with /.",
				map[string]string{"field": "operations", "message": "operation " + op.OperationID + " is incomplete"})
			return
		}
	}
	b := &batch{ID: strings.ReplaceAll(fakekit.CorrelationID(), "-", "")[:10], account: c.Account, total: len(in.Operations), submitted: f.kit.Now()}
	results := make([]opResult, 0, len(in.Operations))
	ctx := context.WithValue(context.WithoutCancel(r.Context()), callKey{}, c)
	for _, op := range in.Operations {
		u := &url.URL{Path: op.Path}
		q := url.Values{}
		for k, v := range op.Params {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
		req := httptest.NewRequestWithContext(ctx, op.Method, u.String(), strings.NewReader(op.Body))
		rec := httptest.NewRecorder()
		f.inner.ServeHTTP(rec, req)
		if rec.Code >= 400 {
			b.errored++
		}
		results = append(results, opResult{StatusCode: rec.Code, OperationID: op.OperationID, Response: rec.Body.String()})
	}
	b.completed = f.kit.Now()
	b.archive = archive(b.ID, results)
	f.mu.Lock()
	f.batches[b.ID] = b
	f.mu.Unlock()
	fakekit.WriteJSON(w, http.StatusOK, f.renderBatch(r, b, "pending"))
}

// archive packs results the way Mailchimp does: a gzipped tar of JSON files,
// each an array of operation results.
func archive(id string, results []opResult) []byte {
	data, _ := json.Marshal(results)
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	_ = tw.WriteHeader(&tar.Header{Name: id + ".json", Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
	_, _ = tw.Write(data)
	_ = tw.Close()
	_ = gz.Close()
	return buf.Bytes()
}

func (f *Fake) renderBatch(r *http.Request, b *batch, status string) map[string]any {
	out := map[string]any{
		"id": b.ID, "status": status, "total_operations": b.total, "finished_operations": 0, "errored_operations": 0,
		"submitted_at": b.submitted.UTC().Format(time.RFC3339), "completed_at": "", "response_body_url": "",
	}
	if status == "finished" {
		out["finished_operations"], out["errored_operations"] = b.total, b.errored
		out["completed_at"] = b.completed.UTC().Format(time.RFC3339)
		out["response_body_url"] = baseURL(r) + "/_results/" + b.ID
	}
	return out
}

// baseURL is the fake's own absolute base as the client reached it, mount
// prefix included (the results link is absolute, like Mailchimp's S3 link).
func baseURL(r *http.Request) string {
	path := r.RequestURI
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + strings.TrimSuffix(path, r.URL.Path)
}

func (f *Fake) getBatch(w http.ResponseWriter, r *http.Request, c fakekit.Call) {
	f.mu.Lock()
	b, ok := f.batches[r.PathValue("id")]
	status := "started"
	if ok && b.account == c.Account {
		b.reads++
		if b.reads > 1 {
			status = "finished"
		}
	}
	f.mu.Unlock()
	if !ok || b.account != c.Account {
		problem(w, http.StatusNotFound, "Resource Not Found", "The requested resource could not be found.")
		return
	}
	fakekit.WriteJSON(w, http.StatusOK, f.renderBatch(r, b, status))
}

// batchResults serves a finished batch's archive without credentials, as a
// pre-signed storage link does.
func (f *Fake) batchResults(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	b, ok := f.batches[r.PathValue("id")]
	f.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/x-gzip")
	_, _ = w.Write(b.archive)
}
