package loadtest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestRunMeasuresEveryRequest(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(401)
			return
		}
		if r.URL.Path == "/api/v1/connections" {
			_, _ = w.Write([]byte(`{"connections":[{"id":"con_1"},{"id":"con_2"}]}`))
			return
		}
		w.WriteHeader(200)
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Config{URL: srv.URL, Token: "tok", Rate: 200, Duration: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 100 || res.OK != 100 || res.Failed != 0 || res.Paths != 5 || res.P99 <= 0 || res.P50 > res.P99 || res.P99 > res.Max {
		t.Fatalf("result %s", res)
	}
	if _, err := Run(context.Background(), Config{URL: srv.URL, Token: "bad", Rate: 10, Duration: time.Second}); err == nil {
		t.Fatal("a refused token went unnoticed")
	}
}
