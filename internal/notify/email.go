package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"strconv"
	"strings"
	"time"
)

// STARTTLS policies.
const (
	StartTLSAuto   = "auto"   // upgrade when the server offers it
	StartTLSAlways = "always" // refuse to send over a server that does not offer it
	StartTLSNever  = "never"  // plain SMTP (a relay on localhost)
)

// SMTPConfig is how Patchbay reaches its mail server.
type SMTPConfig struct {
	Host     string
	Port     int    // default 587
	Username string // empty: no AUTH
	Password string // secret
	From     string // the sender address, e.g. "Patchbay <patchbay@example.com>"
	StartTLS string // auto (default), always, never
	// TLS is the client TLS configuration for STARTTLS; nil verifies the
	// server against the system roots under the name Host.
	TLS *tls.Config
	// Timeout bounds one delivery (dial to QUIT). Default 30 s.
	Timeout time.Duration
}

// Enabled reports whether e-mail is configured.
func (c SMTPConfig) Enabled() bool { return c.Host != "" }

func (c *SMTPConfig) validate() error {
	if !c.Enabled() {
		return nil
	}
	var errs []error
	if c.Port == 0 {
		c.Port = 587
	}
	if c.Port < 1 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("smtp port %d: want 1-65535", c.Port))
	}
	if c.StartTLS == "" {
		c.StartTLS = StartTLSAuto
	}
	switch c.StartTLS {
	case StartTLSAuto, StartTLSAlways, StartTLSNever:
	default:
		errs = append(errs, fmt.Errorf("smtp starttls %q: want auto, always or never", c.StartTLS))
	}
	if _, err := mail.ParseAddress(c.From); err != nil {
		errs = append(errs, fmt.Errorf("smtp from %q: want an e-mail address like \"Patchbay <patchbay@example.com>\"", c.From))
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	return errors.Join(errs...)
}

// mailer sends e-mail over SMTP with the standard library's client.
type mailer struct{ c SMTPConfig }

// send delivers one plain-text message to the recipients.
func (m mailer) send(ctx context.Context, to []string, subject, body string) error {
	ctx, cancel := context.WithTimeout(ctx, m.c.Timeout)
	defer cancel()
	addr := net.JoinHostPort(m.c.Host, strconv.Itoa(m.c.Port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("smtp: connect to %s: %w", addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	c, err := smtp.NewClient(conn, m.c.Host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("smtp: greeting from %s: %w", addr, err)
	}
	defer c.Close()
	if err := c.Hello("patchbay"); err != nil {
		return fmt.Errorf("smtp: EHLO: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok && m.c.StartTLS != StartTLSNever {
		cfg := m.c.TLS
		if cfg == nil {
			cfg = &tls.Config{ServerName: m.c.Host, MinVersion: tls.VersionTLS12}
		}
		if err := c.StartTLS(cfg); err != nil {
			return fmt.Errorf("smtp: STARTTLS: %w", err)
		}
	} else if m.c.StartTLS == StartTLSAlways {
		return fmt.Errorf("smtp: %s does not offer STARTTLS and PATCHBAY_SMTP_STARTTLS=always", addr)
	}
	if m.c.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return fmt.Errorf("smtp: %s offers no AUTH but a username is configured", addr)
		}
		// PlainAuth refuses to send the password unencrypted except to localhost.
		if err := c.Auth(smtp.PlainAuth("", m.c.Username, m.c.Password, m.c.Host)); err != nil {
			return fmt.Errorf("smtp: AUTH: %w", err)
		}
	}
	from, _ := mail.ParseAddress(m.c.From) // checked by validate
	if err := c.Mail(from.Address); err != nil {
		return fmt.Errorf("smtp: MAIL FROM: %w", err)
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt); err != nil {
			return fmt.Errorf("smtp: RCPT TO %s: %w", rcpt, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp: DATA: %w", err)
	}
	if _, err := w.Write(compose(from, to, subject, body)); err != nil {
		return fmt.Errorf("smtp: write message: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp: end of message: %w", err)
	}
	return c.Quit()
}

// compose renders an RFC 5322 message: UTF-8 text, quoted-printable, CRLF.
func compose(from *mail.Address, to []string, subject, body string) []byte {
	var b bytes.Buffer
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	domain := from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	hdr := [][2]string{
		{"From", from.String()},
		{"To", strings.Join(to, ", ")},
		{"Subject", mime.QEncoding.Encode("utf-8", subject)},
		{"Date", time.Now().UTC().Format(time.RFC1123Z)},
		{"Message-ID", "<" + hex.EncodeToString(id) + "@" + domain + ">"},
		{"MIME-Version", "1.0"},
		{"Content-Type", "text/plain; charset=utf-8"},
		{"Content-Transfer-Encoding", "quoted-printable"},
		{"Auto-Submitted", "auto-generated"},
	}
	for _, h := range hdr {
		b.WriteString(h[0] + ": " + h[1] + "\r\n")
	}
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	_, _ = qp.Write([]byte(strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n")))
	_ = qp.Close()
	b.WriteString("\r\n")
	return b.Bytes()
}
