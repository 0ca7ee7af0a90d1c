package main

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/sotasystems/sota/store"
)

// dbFlags is the --db flag, embedded by every command that opens the store.
type dbFlags struct {
	DB string `name:"db" help:"SQLite database of tenants, keys and usage (default: $XDG_DATA_HOME/sota/sota.db, else ~/.local/share/sota/sota.db)." env:"SOTA_DB" placeholder:"FILE"`
}

// path is the database file: --db, else the default.
func (f dbFlags) path() (string, error) {
	if f.DB != "" {
		return f.DB, nil
	}
	if p := defaultDBPath(); p != "" {
		return p, nil
	}
	return "", errors.New("no --db given and no home directory for the default database")
}

// open opens the store (creating it and its directory if needed).
func (f dbFlags) open() (*store.DB, error) {
	p, err := f.path()
	if err != nil {
		return nil, err
	}
	return store.Open(p)
}

// defaultDBPath is $XDG_DATA_HOME/sota/sota.db, else
// ~/.local/share/sota/sota.db; "" when there is no home directory. A relative
// XDG_DATA_HOME is ignored, as the XDG base directory spec says.
func defaultDBPath() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "sota", "sota.db")
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return ""
	}
	return filepath.Join(home, ".local", "share", "sota", "sota.db")
}
