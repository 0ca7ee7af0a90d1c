package tokenizer

import (
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// The parts of SentencePiece's ModelProto (sentencepiece_model.proto) this
// package reads. Field numbers are those of the .proto file.

// Piece types of ModelProto.SentencePiece.Type.
const (
	pieceNormal      = 1
	pieceUnknown     = 2
	pieceControl     = 3
	pieceUserDefined = 4
	pieceUnused      = 5
	pieceByte        = 6
)

// Model types of TrainerSpec.ModelType.
const (
	spmUnigram = 1
	spmBPE     = 2
	spmWord    = 3
	spmChar    = 4
)

type spmPiece struct {
	piece string
	score float32
	typ   int
}

// spmProto is a parsed ModelProto, with the proto2 defaults filled in.
type spmProto struct {
	pieces []spmPiece

	modelType           int   // trainer_spec.model_type (default UNIGRAM)
	bosID, eosID        int32 // trainer_spec.bos_id, eos_id (defaults 1, 2; -1 for none)
	byteFallback        bool  // trainer_spec.byte_fallback
	whitespaceAsSuffix  bool  // trainer_spec.treat_whitespace_as_suffix
	normalizerName      string
	charsMap            int  // len(normalizer_spec.precompiled_charsmap)
	addDummyPrefix      bool // default true
	removeExtraSpaces   bool // default true
	escapeWhitespaces   bool // default true
	normalizationRules  bool // normalization_rule_tsv set
	denormalizerPresent bool
}

var errProto = errors.New("malformed protobuf")

// parseSPM parses a serialized ModelProto.
func parseSPM(b []byte) (*spmProto, error) {
	p := &spmProto{modelType: spmUnigram, bosID: 1, eosID: 2, addDummyPrefix: true, removeExtraSpaces: true, escapeWhitespaces: true}
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			piece, err := parsePiece(v)
			if err != nil {
				return fmt.Errorf("piece %d: %w", len(p.pieces), err)
			}
			p.pieces = append(p.pieces, piece)
		case num == 2 && typ == protowire.BytesType:
			return parseTrainerSpec(v, p)
		case num == 3 && typ == protowire.BytesType:
			return parseNormalizerSpec(v, p)
		case num == 5 && typ == protowire.BytesType:
			p.denormalizerPresent = len(v) > 0
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

func parsePiece(b []byte) (spmPiece, error) {
	sp := spmPiece{typ: pieceNormal}
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			sp.piece = string(v)
		case num == 2 && typ == protowire.Fixed32Type:
			sp.score = math.Float32frombits(uint32(x))
		case num == 3 && typ == protowire.VarintType:
			sp.typ = int(x)
		}
		return nil
	})
	return sp, err
}

func parseTrainerSpec(b []byte, p *spmProto) error {
	return eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		if typ != protowire.VarintType {
			return nil
		}
		switch num {
		case 3:
			p.modelType = int(x)
		case 24:
			p.whitespaceAsSuffix = x != 0
		case 35:
			p.byteFallback = x != 0
		case 41:
			p.bosID = int32(x)
		case 42:
			p.eosID = int32(x)
		}
		return nil
	})
}

func parseNormalizerSpec(b []byte, p *spmProto) error {
	return eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			p.normalizerName = string(v)
		case num == 2 && typ == protowire.BytesType:
			p.charsMap = len(v)
		case num == 3 && typ == protowire.VarintType:
			p.addDummyPrefix = x != 0
		case num == 4 && typ == protowire.VarintType:
			p.removeExtraSpaces = x != 0
		case num == 5 && typ == protowire.VarintType:
			p.escapeWhitespaces = x != 0
		case num == 6 && typ == protowire.BytesType:
			p.normalizationRules = len(v) > 0
		}
		return nil
	})
}

// eachField calls fn for every field of a message: v holds the bytes of a
// length-delimited field, x the value of a varint or fixed-size one.
func eachField(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %v", errProto, protowire.ParseError(n))
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var y uint32
			y, n = protowire.ConsumeFixed32(b)
			x = uint64(y)
		case protowire.Fixed64Type:
			x, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("%w: field %d: %v", errProto, num, protowire.ParseError(n))
		}
		b = b[n:]
		if err := fn(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}
