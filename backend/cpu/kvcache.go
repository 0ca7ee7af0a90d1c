package cpu

// kvCache is the paged K/V memory of all layers. A block holds blockSize
// consecutive positions of one sequence; which block holds which positions is
// decided by the caller through the block tables of each Batch.
//
// Layout per layer: [numBlocks][kvHeads][blockSize][headDim], so the keys of
// one head within one block are contiguous.
type kvCache struct {
	blockSize, kvHeads, headDim int
	numBlocks                   int
	k, v                        [][]float32 // [layer] → [numBlocks*kvHeads*blockSize*headDim]
}

func newKVCache(layers, numBlocks, blockSize, kvHeads, headDim int) *kvCache {
	c := &kvCache{blockSize: blockSize, kvHeads: kvHeads, headDim: headDim, numBlocks: numBlocks}
	size := numBlocks * kvHeads * blockSize * headDim
	c.k = make([][]float32, layers)
	c.v = make([][]float32, layers)
	for l := range layers {
		c.k[l] = make([]float32, size)
		c.v[l] = make([]float32, size)
	}
	return c
}

// bytesPerBlock is the memory one block takes across all layers (K and V).
func kvBytesPerBlock(layers, blockSize, kvHeads, headDim int) int64 {
	return int64(layers) * 2 * int64(blockSize*kvHeads*headDim) * 4
}

// offset is where position pos of kv head h starts, given the sequence's block table.
func (c *kvCache) offset(blocks []int32, pos, h int) int {
	blk := int(blocks[pos/c.blockSize])
	return ((blk*c.kvHeads+h)*c.blockSize + pos%c.blockSize) * c.headDim
}
