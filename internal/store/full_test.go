package store

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
)

// TestDiskFullWritesNothingHalf fills SQLite (max_page_count stands in for a
// full disk) and checks that a multi-row write fails whole, with ErrFull, and
// that the store keeps working for reads and, once there is room, for writes.
func TestDiskFullWritesNothingHalf(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := OpenTest(t, SQLite)
	ws, c := seedConnection(t, s)
	var pages int
	if err := s.write.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := s.write.ExecContext(ctx, "PRAGMA max_page_count = "+strconv.Itoa(pages+60)); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 64<<10)
	var ferr error
	written := 0
	for i := range 50 {
		ferr = s.InTx(ctx, func(tx *Tx) error {
			if err := tx.SaveCredential(ctx, c.ID, Credential{KeyID: "k", Ciphertext: big}); err != nil {
				return err
			}
			return tx.AddEvent(ctx, &Event{WorkspaceID: ws.ID, ConnectionID: c.ID, Kind: "test.big", Message: strings.Repeat("m", 32<<10) + strconv.Itoa(i)})
		})
		if ferr != nil {
			break
		}
		written++
	}
	if !errors.Is(ferr, ErrFull) || !strings.Contains(ferr.Error(), "free disk space") {
		t.Fatalf("a full database answered %v", ferr)
	}
	// Whole or nothing: exactly the committed transactions' events are there,
	// and the credential is the last committed one (or none).
	evs, err := s.ListEvents(ctx, ws.ID, c.ID, 1000)
	if err != nil {
		t.Fatalf("reads after a full disk: %v", err)
	}
	if len(evs) != written {
		t.Fatalf("half-written: %d events for %d committed writes", len(evs), written)
	}
	if _, err := s.Credential(ctx, c.ID); (written > 0) != (err == nil) {
		t.Fatalf("credential after %d committed writes: %v", written, err)
	}
	t.Logf("%d writes committed before the database was full: %v", written, ferr)
	// Room again: writes succeed.
	if _, err := s.write.ExecContext(ctx, "PRAGMA max_page_count = 1073741823"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddEvent(ctx, &Event{WorkspaceID: ws.ID, Kind: "test.after", Message: "room again"}); err != nil {
		t.Fatalf("write after freeing space: %v", err)
	}
}
