package engine

// Pair is one query/passage pair to score.
type Pair struct {
	Query, Passage string
}

// Sequence is one tokenized pair: [CLS] query [SEP] passage [SEP] ids with
// their token types (0 for the query part, 1 for the passage part).
type Sequence struct {
	IDs, TypeIDs []int32
}

// Activation is applied to the classifier's logit.
type Activation int

const (
	// ActivationAuto uses what the model's config says (raw logits for the
	// ms-marco cross-encoders, as sentence-transformers does).
	ActivationAuto Activation = iota
	// ActivationRaw returns the logit unchanged.
	ActivationRaw
	// ActivationSigmoid returns 1/(1+exp(-logit)).
	ActivationSigmoid
)
