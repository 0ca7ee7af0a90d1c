package bench

// words are common English words that are one token each (with their
// leading space) in the usual BPE vocabularies (GPT-2/tiktoken, Llama 3,
// Mistral, Qwen2, Llama 2's SentencePiece): a prompt of N of them, joined by
// spaces, is about N tokens. It is an approximation: sota-bench has no
// tokenizer, so that it can measure any server; the prompt_tokens a server
// reports in usage are what the results count when it reports them.
var words = [...]string{
	"the", "of", "and", "to", "in", "is", "that", "for", "it", "as",
	"was", "with", "be", "by", "on", "not", "he", "this", "are", "or",
	"his", "from", "at", "which", "but", "have", "an", "had", "they", "you",
	"were", "their", "one", "all", "we", "can", "her", "has", "there", "been",
	"if", "more", "when", "will", "would", "who", "so", "no", "time", "people",
	"year", "new", "work", "day", "man", "world", "life", "part", "house", "city",
	"water", "school", "night", "name", "story", "river", "game", "light", "music", "book",
	"door", "tree", "road", "king", "dog", "cat", "sun", "ship", "town", "car",
	"room", "hand", "home", "war", "food", "money", "power", "line", "family", "water",
	"point", "state", "head", "place", "side", "land", "week", "group", "number", "body",
}
