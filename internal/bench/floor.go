package bench

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the store's driver, for the raw floor
)

// floor measures the raw cost of an engine run's work in the same run: the
// same pages fetched over the same loopback HTTP from the same fake and
// decoded, and the same rows written to SQLite through the same driver with
// the store's pragmas, one prepared insert per row and one transaction per
// page, nothing else (no sources, no hashing, no run bookkeeping).
type floor struct {
	api    string // the HubSpot fake's API base
	token  string
	object string
	db     *sql.DB
	client *http.Client
}

func newFloor(dir, api, token, object string) (*floor, error) {
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "floor.db")+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE raw_rows (id TEXT PRIMARY KEY, vals TEXT NOT NULL)`); err != nil {
		db.Close()
		return nil, fmt.Errorf("raw floor table: %w", err)
	}
	return &floor{api: api, token: token, object: object, db: db, client: &http.Client{Timeout: time.Minute}}, nil
}

func (f *floor) close() { f.db.Close() }

type floorPage struct {
	Results []struct {
		ID         string         `json:"id"`
		Properties map[string]any `json:"properties"`
	} `json:"results"`
	Paging *struct {
		Next *struct {
			After string `json:"after"`
		} `json:"next"`
	} `json:"paging"`
}

// inbound pages through the fake's records and writes each page raw; it
// returns the records moved and the time taken.
func (f *floor) inbound(ctx context.Context, fields []string) (int, time.Duration, error) {
	ins, err := f.db.PrepareContext(ctx, `INSERT INTO raw_rows (id, vals) VALUES (?, ?)`)
	if err != nil {
		return 0, 0, err
	}
	defer ins.Close()
	start := time.Now()
	n, after := 0, ""
	for {
		q := url.Values{"limit": {"100"}, "properties": {strings.Join(fields, ",")}}
		if after != "" {
			q.Set("after", after)
		}
		var page floorPage
		if err := f.call(ctx, http.MethodGet, "/crm/v3/objects/"+f.object+"?"+q.Encode(), nil, &page); err != nil {
			return n, 0, err
		}
		tx, err := f.db.BeginTx(ctx, nil)
		if err != nil {
			return n, 0, err
		}
		st := tx.StmtContext(ctx, ins)
		for _, r := range page.Results {
			b, err := json.Marshal(r.Properties)
			if err != nil {
				_ = tx.Rollback()
				return n, 0, err
			}
			if _, err := st.ExecContext(ctx, r.ID, string(b)); err != nil {
				_ = tx.Rollback()
				return n, 0, err
			}
		}
		if err := tx.Commit(); err != nil {
			return n, 0, err
		}
		n += len(page.Results)
		if page.Paging == nil || page.Paging.Next == nil || page.Paging.Next.After == "" {
			return n, time.Since(start), nil
		}
		after = page.Paging.Next.After
	}
}

// outbound reads the raw rows back in pages of 100 and creates each page at
// the fake as one batch of the given fields, under new e-mail addresses (the
// fake refuses a second contact with an address it holds).
func (f *floor) outbound(ctx context.Context, fields []string) (int, time.Duration, error) {
	start := time.Now()
	n, after := 0, ""
	for {
		rows, err := f.db.QueryContext(ctx, `SELECT id, vals FROM raw_rows WHERE id > ? ORDER BY id LIMIT 100`, after)
		if err != nil {
			return n, 0, err
		}
		var inputs []map[string]any
		for rows.Next() {
			var id, vals string
			if err := rows.Scan(&id, &vals); err != nil {
				rows.Close()
				return n, 0, err
			}
			var props map[string]any
			if err := json.Unmarshal([]byte(vals), &props); err != nil {
				rows.Close()
				return n, 0, err
			}
			out := make(map[string]any, len(fields))
			for _, k := range fields {
				out[k] = props[k]
			}
			if e, ok := out["email"].(string); ok {
				out["email"] = "floor-" + e
			}
			inputs = append(inputs, map[string]any{"properties": out})
			after = id
		}
		if err := rows.Close(); err != nil {
			return n, 0, err
		}
		if len(inputs) == 0 {
			return n, time.Since(start), nil
		}
		if err := f.call(ctx, http.MethodPost, "/crm/v3/objects/"+f.object+"/batch/create", map[string]any{"inputs": inputs}, nil); err != nil {
			return n, 0, err
		}
		n += len(inputs)
	}
}

func (f *floor) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, f.api+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+f.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("raw floor %s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
