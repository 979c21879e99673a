package netguard

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ip      string
		refused bool
	}{
		{"127.0.0.1", true}, {"127.8.9.10", true}, {"::1", true}, {"10.1.2.3", true}, {"172.16.0.1", true}, {"192.168.1.1", true},
		{"169.254.169.254", true}, {"fe80::1", true}, {"fd00:ec2::254", true}, {"0.0.0.0", true}, {"::", true}, {"100.64.0.1", true},
		{"::ffff:127.0.0.1", true}, {"::ffff:10.0.0.1", true}, {"224.0.0.1", true}, {"255.255.255.255", true},
		{"::127.0.0.1", true}, {"::10.0.0.1", true}, {"::8.8.8.8", true}, {"64:ff9b::7f00:1", true}, {"64:ff9b::a9fe:a9fe", true},
		{"64:ff9b::a00:1", true}, {"2002:7f00:1::", true}, {"2002:a9fe:a9fe::1", true},
		{"64:ff9b::808:808", false}, {"2002:808:808::1", false},
		{"93.184.216.34", false}, {"8.8.8.8", false}, {"2606:4700:4700::1111", false}, {"172.32.0.1", false},
	}
	for _, tc := range tests {
		if got := Refused(netip.MustParseAddr(tc.ip)) != ""; got != tc.refused {
			t.Errorf("Refused(%s) = %v, want %v", tc.ip, got, tc.refused)
		}
	}
}

func TestClientRefusesLoopbackAtDialTime(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	defer srv.Close()
	// A name that resolves to loopback is refused like the address itself.
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	for _, u := range []string{srv.URL, "http://localhost:" + port} {
		resp, err := Client(false, 5*time.Second).Get(u)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("%s: guarded client connected", u)
		}
		be := AsBlocked(err)
		if be == nil || be.Reason != "loopback" || !strings.Contains(err.Error(), "PATCHBAY_ALLOW_PRIVATE_NETWORKS") {
			t.Fatalf("%s: %v", u, err)
		}
	}
	resp, err := Client(true, 5*time.Second).Get(srv.URL)
	if err != nil {
		t.Fatalf("allowed client: %v", err)
	}
	resp.Body.Close()
	// The dialer refuses before any byte is sent: the context is not the reason.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://169.254.169.254/latest/meta-data/", nil)
	if _, err := Client(false, time.Second).Do(req); AsBlocked(err) == nil {
		t.Fatalf("metadata address: %v", err)
	}
}
