// Package loader finds a cross-encoder model on disk and reads it: the
// Hugging Face config.json of a BertForSequenceClassification model, its
// weights from a memory-mapped safetensors file, and the paths of its
// tokenizer files.
//
// A model is named either by a directory laid out like a Hugging Face model
// repository or by a repository id ("org/name", optionally "org/name@rev")
// that is looked up in the local Hugging Face cache exactly as huggingface_hub
// lays it out. Nothing here touches the network: a model missing from the
// cache is an error wrapping [ErrNotCached] that names the download command.
//
// Everything read from disk is validated before use. config.json is refused
// beyond 1 MiB without being read, its sizes are bounded, and Open checks
// each of them against the tensors it shapes (embedding tables, every
// layer's weights) before anything is allocated from it. A malformed file gives
// an error wrapping [ErrCorrupt] that names the file and what is wrong; a
// well-formed file asking for something this project does not implement (a
// dtype, an activation, an architecture) gives one wrapping [ErrUnsupported].
//
// F32 weights are handed out as views straight into the file mapping, so a
// model costs no heap for its weights; they stay valid until the file is
// closed and must not be written to.
package loader
