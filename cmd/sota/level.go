package main

import (
	"fmt"
	"log/slog"
	"reflect"

	"github.com/alecthomas/kong"
)

var reflectLevel = reflect.TypeOf(slog.Level(0))

// levelMapper parses --log-level names (debug, info, warn, error).
func levelMapper() kong.MapperFunc {
	return func(ctx *kong.DecodeContext, target reflect.Value) error {
		var s string
		if err := ctx.Scan.PopValueInto("level", &s); err != nil {
			return err
		}
		var l slog.Level
		if err := l.UnmarshalText([]byte(s)); err != nil {
			return fmt.Errorf("log level %q: want debug, info, warn or error", s)
		}
		target.Set(reflect.ValueOf(l))
		return nil
	}
}
