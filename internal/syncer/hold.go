package syncer

import (
	"context"
	"errors"

	"patchbay/internal/store"
)

// Hold keeps a sync from running until release is called, the way a run
// does (the claim in this process, the lock across processes): for removing
// it without a run writing into what is being deleted. It answers ErrBusy
// while the sync runs.
func (e *Engine) Hold(ctx context.Context, syncID string) (release func(), err error) {
	if !e.claim(syncID) {
		return nil, ErrBusy
	}
	unlock, err := e.cfg.Store.TryHold(ctx, "sync:"+syncID)
	if err != nil {
		e.release(syncID)
		if errors.Is(err, store.ErrLocked) {
			return nil, ErrBusy
		}
		return nil, err
	}
	return func() {
		unlock()
		e.release(syncID)
	}, nil
}
