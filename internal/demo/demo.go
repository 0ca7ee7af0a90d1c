package demo

import (
	"embed"
	"io/fs"
)

//go:embed stories260k
var files embed.FS

// Name is the model name the demo model is served and reported under.
const Name = "stories260k"

// FS returns the demo model's folder: config.json, generation_config.json,
// model.safetensors, tokenizer.json, tokenizer_config.json and LICENSE.
func FS() fs.FS {
	sub, err := fs.Sub(files, "stories260k")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return sub
}
