package mailchimp

import (
	"net/http"

	"patchbay/internal/fakes/fakekit"
)

// ping is GET /3.0/ping, the health check the official clients' ping.get() calls.
func (f *Fake) ping(w http.ResponseWriter, _ *http.Request, _ fakekit.Call) {
	fakekit.WriteJSON(w, http.StatusOK, map[string]string{"health_status": "Everything's Chimpy!"})
}
