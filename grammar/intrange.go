package grammar

import (
	"strconv"
	"strings"
)

// intRange matches the JSON integers in [lo, hi]; a nil bound is open.
func intRange(lo, hi *int64) *expr {
	if lo != nil && hi != nil && *lo > *hi {
		return none()
	}
	var parts []*expr
	if lo == nil || *lo < 0 { // negative part: -[max(1, -hi), -lo]
		nlo := uint64(1)
		if hi != nil && *hi < -1 {
			nlo = uint64(-*hi)
		}
		if lo == nil {
			parts = append(parts, seq(oneByte('-'), nonneg(nlo, 0, true)))
		} else {
			parts = append(parts, seq(oneByte('-'), nonneg(nlo, uint64(-*lo), false)))
		}
	}
	if hi == nil || *hi >= 0 {
		a := uint64(0)
		if lo != nil && *lo > 0 {
			a = uint64(*lo)
		}
		if hi == nil {
			parts = append(parts, nonneg(a, 0, true))
		} else {
			parts = append(parts, nonneg(a, uint64(*hi), false))
		}
	}
	return alt(parts...)
}

// nonneg matches the decimal numbers in [a, b] (b unbounded when inf)
// written without leading zeros.
func nonneg(a, b uint64, inf bool) *expr {
	if !inf && a > b {
		return none()
	}
	sa := strconv.FormatUint(a, 10)
	if inf {
		return alt(sameLen(sa, strings.Repeat("9", len(sa))),
			seq(digit19, rep(digit, len(sa), len(sa)), star(digit)))
	}
	sb := strconv.FormatUint(b, 10)
	var parts []*expr
	for l := len(sa); l <= len(sb); l++ {
		x, y := "1"+strings.Repeat("0", l-1), strings.Repeat("9", l)
		if l == len(sa) {
			x = sa
		}
		if l == len(sb) {
			y = sb
		}
		parts = append(parts, sameLen(x, y))
	}
	return alt(parts...)
}

// sameLen matches the digit strings of len(x) between x and y (x <= y).
func sameLen(x, y string) *expr {
	n := len(x)
	switch {
	case n == 0:
		return lit("")
	case x == y:
		return lit(x)
	case x[0] == y[0]:
		return seq(lit(x[:1]), sameLen(x[1:], y[1:]))
	}
	var parts []*expr
	start, end := x[0], y[0]
	if strings.Trim(x[1:], "0") != "" {
		parts = append(parts, seq(lit(x[:1]), sameLen(x[1:], strings.Repeat("9", n-1))))
		start++
	}
	var last *expr
	if strings.Trim(y[1:], "9") != "" {
		last = seq(lit(y[:1]), sameLen(strings.Repeat("0", n-1), y[1:]))
		end--
	}
	if start <= end {
		parts = append(parts, seq(byteSet(byteRange{start, end}), rep(digit, n-1, n-1)))
	}
	if last != nil {
		parts = append(parts, last)
	}
	return alt(parts...)
}
