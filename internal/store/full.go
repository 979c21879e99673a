package store

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
)

// ErrFull is returned when the database cannot grow (disk or quota full). The
// write it interrupted was rolled back whole.
var ErrFull = errors.New("the database is full: free disk space (or raise the volume's size or quota) and try again; the interrupted change was not written")

const (
	sqliteFull = 13      // SQLITE_FULL
	pgDiskFull = "53100" // disk_full
)

// full wraps err with ErrFull when it is the database running out of space.
func full(err error) error {
	if err == nil || errors.Is(err, ErrFull) {
		return err
	}
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqliteFull {
		return fmt.Errorf("%w (%v)", ErrFull, err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == pgDiskFull {
		return fmt.Errorf("%w (%v)", ErrFull, err)
	}
	return err
}
