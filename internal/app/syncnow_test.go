package app_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"patchbay/internal/app/apptest"
	"patchbay/internal/connector"
	"patchbay/internal/connector/hubspot"
	"patchbay/internal/store"
	"patchbay/internal/syncer"
)

// logSignal is an apptest log writer that closes a channel at the first
// line containing every one of want.
type logSignal struct {
	want []string
	mu   sync.Mutex
	buf  []byte
	once sync.Once
	seen chan struct{}
}

func (l *logSignal) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(l.buf[:i])
		l.buf = l.buf[i+1:]
		match := true
		for _, w := range l.want {
			match = match && strings.Contains(line, w)
		}
		if match {
			l.once.Do(func() { close(l.seen) })
		}
	}
}

// A webhook asks for a run while the user's Sync now is running: the user's
// run is not failed by it, the job waits (snoozed, not failed) and runs once
// the user's run ended, and the two never overlap.
func TestSyncNowAndAQueuedRunOfTheSameSync(t *testing.T) {
	t.Parallel()
	h := &hooked{Connector: hubspot.New()}
	reg := connector.NewRegistry()
	if err := reg.Register("hubspot", h); err != nil {
		t.Fatal(err)
	}
	snoozed := &logSignal{want: []string{`"job snoozed"`, `"kind":"run_sync"`}, seen: make(chan struct{})}
	e := apptest.Start(t, apptest.Options{Connectors: reg, Log: snoozed})
	conn := e.ConnectOAuth("hubspot", "acct-now", nil, contactScopes...)
	seedContacts(t, e, "acct-now", 300, segmentContact)
	tbl := createTable(e, "email")
	id := createSync(e, map[string]any{"direction": "inbound", "connection_id": conn, "table_id": tbl, "object": "contacts",
		"mapping": []map[string]string{{"source": "email", "target": "email"}}})
	start := h.lists.Load()
	h.afterList = func(n int64) {
		if n-start != 1 {
			return
		}
		// Between the first and second page of the user's run.
		e.App.Scheduler().Queue(id, syncer.TriggerWebhook, time.Now())
		select {
		case <-snoozed.seen:
		case <-time.After(10 * time.Second):
			t.Error("the queued run did not meet the running one within 10 s")
		}
	}
	manual := runSync(e, id, nil)
	if manual.Status != "succeeded" || manual.Created != 300 || manual.Trigger != "manual" {
		t.Fatalf("the user's run: %+v", manual)
	}
	h.afterList = nil
	first, err := e.Store().GetRun(t.Context(), "default", manual.ID)
	if err != nil {
		t.Fatal(err)
	}
	hook := waitRun(t, e, id, func(r *store.Run) bool {
		return r.Trigger == syncer.TriggerWebhook && r.Status == syncer.StatusSucceeded
	})
	if hook.StartedAt.Before(first.FinishedAt) {
		t.Fatalf("the webhook's run started at %s, before the user's run ended at %s", hook.StartedAt, first.FinishedAt)
	}
	if hook.Created != 0 {
		t.Fatalf("the webhook's run after a full read created %d rows", hook.Created)
	}
}
