package store

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache holds the statements of one pool prepared once and reused, so
// that SQLite compiles a statement's text once per connection instead of on
// every call (compiling took about as long as executing on the write path).
// PostgreSQL needs none: pgx caches prepared statements per connection itself.
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
	// pending are statements first met inside a transaction: the write pool's
	// one connection is the transaction's then, so they are prepared after
	// it commits (preparePending).
	pending map[string]bool
}

// maxCachedStmts bounds the cache: statements with a placeholder list per
// batch size vary in text, and the few beyond it are compiled each time.
const maxCachedStmts = 512

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}, pending: map[string]bool{}}
}

// cached returns the prepared statement for query without preparing it;
// a miss is noted for preparePending.
func (c *stmtCache) cached(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.m[query]
	if !ok && len(c.m)+len(c.pending) < maxCachedStmts {
		c.pending[query] = true
	}
	return st
}

// preparePending prepares the statements noted inside transactions.
func (c *stmtCache) preparePending(ctx context.Context) {
	c.mu.Lock()
	if len(c.pending) == 0 {
		c.mu.Unlock()
		return
	}
	queries := make([]string, 0, len(c.pending))
	for q := range c.pending {
		queries = append(queries, q)
	}
	clear(c.pending)
	c.mu.Unlock()
	for _, q := range queries {
		c.get(ctx, q)
	}
}

// get returns the prepared statement for query, nil when the cache is full
// or preparing fails (the caller then runs the text, which reports the error).
func (c *stmtCache) get(ctx context.Context, query string) *sql.Stmt {
	c.mu.Lock()
	st, ok := c.m[query]
	full := len(c.m) >= maxCachedStmts
	c.mu.Unlock()
	if ok {
		return st
	}
	if full {
		return nil
	}
	// Prepared without the lock: preparing may wait for a connection that a
	// transaction holds, and that transaction looks statements up here.
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.m[query]; ok {
		_ = st.Close()
		return prev
	}
	c.m[query] = st
	return st
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		_ = st.Close()
	}
	c.m = map[string]*sql.Stmt{}
}

// prepared is the cached statement for query as q runs it: the pool's own,
// or bound to the transaction (on the transaction's connection, where it is
// already prepared, so it is reused). Nil: run the text.
func (s *Store) prepared(ctx context.Context, q querier, query string) *sql.Stmt {
	switch q := q.(type) {
	case *sql.DB:
		if c := s.cacheOf(q); c != nil {
			return c.get(ctx, query)
		}
	case *sql.Tx:
		// Only the cached: preparing on the pool now would wait for the
		// connection this transaction holds.
		if s.wstmts != nil {
			if st := s.wstmts.cached(query); st != nil {
				return q.StmtContext(ctx, st)
			}
		}
	}
	return nil
}

func (s *Store) cacheOf(db *sql.DB) *stmtCache {
	switch {
	case s.wstmts != nil && db == s.wstmts.db:
		return s.wstmts
	case s.rstmts != nil && db == s.rstmts.db:
		return s.rstmts
	}
	return nil
}
