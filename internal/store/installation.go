package store

import (
	"context"
	"fmt"
)

// ClaimInstallationValue records value under name unless a value is there
// already, and returns the value the installation holds (the first one
// recorded, by whichever process started first).
func (s *Store) ClaimInstallationValue(ctx context.Context, name, value string) (string, error) {
	if _, err := s.exec(ctx, s.write, `INSERT INTO installation (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, value); err != nil {
		return "", fmt.Errorf("record %s: %w", name, err)
	}
	var got string
	if err := s.queryRow(ctx, s.write, `SELECT value FROM installation WHERE name=?`, name).Scan(&got); err != nil {
		return "", fmt.Errorf("read %s: %w", name, err)
	}
	return got, nil
}

// SetInstallationValue records value under name, replacing what was there.
func (s *Store) SetInstallationValue(ctx context.Context, name, value string) error {
	if _, err := s.exec(ctx, s.write, `INSERT INTO installation (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value=excluded.value`, name, value); err != nil {
		return fmt.Errorf("record %s: %w", name, err)
	}
	return nil
}
