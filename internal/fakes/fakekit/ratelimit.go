package fakekit

import "time"

// window is a sliding-window log: the arrival times of the requests accepted
// within the last window length. Providers such as HubSpot count a rolling
// window, not fixed buckets, so a client that bursts at a bucket edge must be
// refused here too.
type window struct {
	hits []time.Time
	// penaltyUntil: after a refusal, providers such as Airtable refuse every
	// request for a fixed time (30 s), however empty the window gets.
	penaltyUntil time.Time
}

// admit records a request arriving at now when fewer than limit requests were
// accepted during the preceding per. Otherwise it refuses and says how long
// until the oldest of those leaves the window. A limit of 0 admits everything.
//
// A penalty greater than zero makes a refusal close the window for that long.
func (w *window) admit(now time.Time, limit int, per, penalty time.Duration) (ok bool, retry time.Duration) {
	if limit <= 0 || per <= 0 {
		return true, 0
	}
	if now.Before(w.penaltyUntil) {
		return false, w.penaltyUntil.Sub(now)
	}
	w.prune(now, per)
	if len(w.hits) >= limit {
		if penalty > 0 {
			w.penaltyUntil = now.Add(penalty)
			return false, penalty
		}
		oldest := w.hits[len(w.hits)-limit]
		return false, oldest.Add(per).Sub(now)
	}
	w.hits = append(w.hits, now)
	return true, 0
}

// count is how many accepted requests the window holds at now.
func (w *window) count(now time.Time, per time.Duration) int {
	w.prune(now, per)
	return len(w.hits)
}

func (w *window) prune(now time.Time, per time.Duration) {
	cut := now.Add(-per)
	i := 0
	for i < len(w.hits) && !w.hits[i].After(cut) {
		i++
	}
	if i > 0 {
		w.hits = append(w.hits[:0], w.hits[i:]...)
	}
}

// retryAfterSeconds renders a wait as the integer seconds of a Retry-After
// header, rounded up so that a client honouring it never arrives early.
func retryAfterSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}
