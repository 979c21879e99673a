package fakekit

import (
	"testing"
	"time"
)

// TestLookupFollowsWrites: the unique-value index answers as a scan of every
// record would, after creates, updates, replacements and deletes.
func TestLookupFollowsWrites(t *testing.T) {
	t.Parallel()
	s := newStore(time.Now)
	var a, b Record
	_ = s.Tx(func(tx *Tx) error {
		a = tx.Create(map[string]string{"email": "A@example.com"})
		return nil
	})
	steps := []struct {
		name  string
		write func(tx *Tx)
		value string
		want  string // "" = nobody holds it
	}{
		{"indexed on first lookup", func(*Tx) {}, "a@EXAMPLE.com", a.ID},
		{"create after indexing", func(tx *Tx) { b = tx.Create(map[string]string{"email": "b@example.com"}) }, "b@example.com", "b"},
		{"update moves the value", func(tx *Tx) { tx.Update(a.ID, map[string]string{"email": "c@example.com"}) }, "a@example.com", ""},
		{"the new value", func(*Tx) {}, "c@example.com", a.ID},
		{"put replaces", func(tx *Tx) { tx.Put(b.ID, map[string]string{"email": "d@example.com"}) }, "b@example.com", ""},
		{"delete drops", func(tx *Tx) { tx.Delete(a.ID) }, "c@example.com", ""},
	}
	for _, st := range steps {
		_ = s.Tx(func(tx *Tx) error {
			st.write(tx)
			want := st.want
			if want == "b" {
				want = b.ID
			}
			id, ok := tx.Lookup("email", st.value)
			if (want == "") == ok || id != want {
				t.Errorf("%s: Lookup(%q) = %q, %v; want %q", st.name, st.value, id, ok, want)
			}
			return nil
		})
	}
}

// TestPageAfterCreates: appending ids in order keeps paging right without a
// re-sort.
func TestPageAfterCreates(t *testing.T) {
	t.Parallel()
	s := newStore(time.Now)
	for range 3 {
		_ = s.Tx(func(tx *Tx) error { tx.Create(map[string]string{"n": "x"}); return nil })
		s.Page("", 1) // builds the order
	}
	page, next := s.Page("", 10)
	if len(page) != 3 || next != "" || page[0].ID != "101" || page[2].ID != "103" {
		t.Fatalf("page %v next %q", page, next)
	}
}
