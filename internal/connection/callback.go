package connection

import (
	"fmt"
	"net/url"
)

// CallbackRequest is what the provider's redirect brought back, and who the
// browser that followed it is signed in as.
type CallbackRequest struct {
	// Query is the redirect's whole query: state, code or error, and whatever
	// the provider signs (checked by a connector.CallbackVerifier).
	Query url.Values
	// Actor is who the browser is signed in as (the same identity given as
	// ConnectRequest.Actor when the flow started), or "" when the browser
	// carries no session. A flow started by one person cannot be finished in
	// a browser signed in as another.
	Actor string
}

// ErrStateActor is returned when the callback arrives in a browser signed in
// as someone else than the person who started the authorization.
var ErrStateActor = fmt.Errorf("this authorization was started by someone else; start the connection again from your own session: %w", ErrInvalidState)
