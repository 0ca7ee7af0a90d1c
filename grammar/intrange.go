package grammar

import (
	"math/big"
	"strings"
)

// intRange matches the JSON integers in [lo, hi]; a nil bound is open.
func intRange(lo, hi *big.Int) *expr {
	if lo != nil && hi != nil && lo.Cmp(hi) > 0 {
		return none()
	}
	zero, one, minus1 := big.NewInt(0), big.NewInt(1), big.NewInt(-1)
	var parts []*expr
	if lo == nil || lo.Sign() < 0 { // negative part: -[max(1, -hi), -lo]
		nlo := one
		if hi != nil && hi.Cmp(minus1) < 0 {
			nlo = new(big.Int).Neg(hi)
		}
		if lo == nil {
			parts = append(parts, seq(oneByte('-'), nonneg(nlo, nil)))
		} else {
			parts = append(parts, seq(oneByte('-'), nonneg(nlo, new(big.Int).Neg(lo))))
		}
	}
	if hi == nil || hi.Sign() >= 0 {
		a := zero
		if lo != nil && lo.Sign() > 0 {
			a = lo
		}
		parts = append(parts, nonneg(a, hi))
	}
	return alt(parts...)
}

// nonneg matches the decimal numbers in [a, b] (b nil: unbounded) written
// without leading zeros.
func nonneg(a, b *big.Int) *expr {
	if b != nil && a.Cmp(b) > 0 {
		return none()
	}
	sa := a.String()
	if b == nil {
		return alt(sameLen(sa, strings.Repeat("9", len(sa))),
			seq(digit19, rep(digit, len(sa), len(sa)), star(digit)))
	}
	sb := b.String()
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
