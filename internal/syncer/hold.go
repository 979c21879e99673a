package syncer

import (
	"context"
	"errors"

	"patchbay/internal/store"
)

// Hold keeps a sync from running until release is called, the way a run
// does (the claim in this process, the sync's lease across processes): for
// removing it without a run writing into what is being deleted. It answers
// ErrBusy while the sync runs.
func (e *Engine) Hold(ctx context.Context, syncID string) (release func(), err error) {
	if !e.claim(syncID) {
		return nil, ErrBusy
	}
	lease, err := e.cfg.Store.AcquireLease(ctx, syncID, store.NewID("hold"), e.cfg.Now(), e.cfg.LeaseTTL)
	if err != nil {
		e.release(syncID)
		if errors.Is(err, store.ErrLeaseHeld) {
			return nil, ErrBusy
		}
		return nil, err
	}
	_, stopRenew := e.renew(context.WithoutCancel(ctx), lease)
	return func() {
		stopRenew()
		e.giveUp(lease)
		e.release(syncID)
	}, nil
}
