package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/minilm-dev/minilm/engine"
)

// request is the union of every dialect's request body: TEI's /rerank and
// /predict, Cohere's and Jina's /v1/rerank and /v2/rerank (also spoken by
// vLLM and llama.cpp), vLLM's /score. Any route takes any of the aliases
// (texts or documents, top_n or top_k); the route decides the response.
type request struct {
	Model               *string     `json:"model"`
	Query               *string     `json:"query"`
	Texts               []document  `json:"texts"`
	Documents           []document  `json:"documents"`
	TopN                *int        `json:"top_n"`
	TopK                *int        `json:"top_k"`
	ReturnDocuments     *bool       `json:"return_documents"`
	ReturnText          *bool       `json:"return_text"`
	RawScores           bool        `json:"raw_scores"`
	Truncate            *bool       `json:"truncate"`
	TruncationDirection *string     `json:"truncation_direction"`
	MaxTokensPerDoc     *int        `json:"max_tokens_per_doc"`
	Inputs              *inputs     `json:"inputs"`
	Text1               *stringList `json:"text_1"`
	Text2               *stringList `json:"text_2"`
}

// document is a string or an object with a "text" field.
type document string

func (d *document) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*d = document(s)
		return nil
	}
	var o struct {
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(b, &o); err != nil || o.Text == nil {
		return errors.New(`a document must be a string or an object with a "text" string`)
	}
	*d = document(*o.Text)
	return nil
}

// stringList is a string or an array of strings (vLLM's text_1, text_2).
type stringList struct {
	items  []string
	single bool
}

func (l *stringList) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		l.items, l.single = []string{s}, true
		return nil
	}
	if err := json.Unmarshal(b, &l.items); err != nil {
		return errors.New("want a string or an array of strings")
	}
	return nil
}

// inputs is TEI /predict's "inputs": one pair ["q", "p"] or a list of them.
type inputs struct {
	pairs  []engine.Pair
	single bool
}

func (in *inputs) UnmarshalJSON(b []byte) error {
	var one []string
	if err := json.Unmarshal(b, &one); err == nil {
		p, err := asPair(one, 0)
		in.pairs, in.single = []engine.Pair{p}, true
		return err
	}
	var many [][]string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New(`want a pair ["query", "passage"] or an array of pairs`)
	}
	in.pairs = make([]engine.Pair, len(many))
	for i, m := range many {
		p, err := asPair(m, i)
		if err != nil {
			return err
		}
		in.pairs[i] = p
	}
	return nil
}

func asPair(s []string, i int) (engine.Pair, error) {
	if len(s) != 2 {
		return engine.Pair{}, fmt.Errorf("input %d has %d texts; a cross-encoder scores pairs [query, passage]", i, len(s))
	}
	return engine.Pair{Query: s[0], Passage: s[1]}, nil
}

// kind is what a route does with a request.
type kind int

const (
	kindRerank  kind = iota // query + documents, ranked
	kindPredict             // TEI's raw pairs, scores in input order
	kindScore               // vLLM's text_1 × text_2
)

// job is a decoded, validated request: the pairs to score and what to do
// with their scores.
type job struct {
	model      string // "" when the request named none
	query      string
	docs       []string // kindRerank: the documents, in request order
	pairs      []engine.Pair
	single     bool // kindPredict: one pair, answered without the outer array
	topN       int  // 0: all
	returnDocs *bool
	raw        bool
	truncate   *bool
	fromLeft   bool
	maxDoc     int // tokens per document, 0: no cap
}

// decode parses and checks a body for a route of kind k. Errors are 400s
// that say which field is wrong.
func decode(body []byte, k kind) (*job, *apiError) {
	var r request
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&r); err != nil {
		return nil, validation("invalid JSON body: %v", jsonError(err))
	}
	if dec.More() {
		return nil, validation("invalid JSON body: more than one JSON value")
	}
	j := &job{raw: r.RawScores, truncate: r.Truncate}
	if r.Model != nil {
		j.model = *r.Model
	}
	if r.TruncationDirection != nil {
		switch strings.ToLower(*r.TruncationDirection) {
		case "left":
			j.fromLeft = true
		case "right":
		default:
			return nil, validation("truncation_direction %q: want Left or Right", *r.TruncationDirection)
		}
	}
	top := r.TopN
	if top == nil {
		top = r.TopK
	}
	if top != nil {
		if *top < 0 {
			return nil, validation("top_n %d: must be positive (or 0 for every document)", *top)
		}
		j.topN = *top
	}
	if r.MaxTokensPerDoc != nil {
		if *r.MaxTokensPerDoc <= 0 {
			return nil, validation("max_tokens_per_doc %d: must be positive", *r.MaxTokensPerDoc)
		}
		j.maxDoc = *r.MaxTokensPerDoc
	}
	j.returnDocs = r.ReturnDocuments
	if j.returnDocs == nil {
		j.returnDocs = r.ReturnText
	}
	switch k {
	case kindRerank:
		if r.Query == nil {
			return nil, validation(`missing field "query"`)
		}
		docs := r.Documents
		if docs == nil {
			docs = r.Texts
		} else if r.Texts != nil {
			return nil, validation(`give "documents" or "texts", not both`)
		}
		if docs == nil {
			return nil, validation(`missing field "texts" (or "documents")`)
		}
		j.query = *r.Query
		j.docs = make([]string, len(docs))
		j.pairs = make([]engine.Pair, len(docs))
		for i, d := range docs {
			j.docs[i] = string(d)
			j.pairs[i] = engine.Pair{Query: j.query, Passage: string(d)}
		}
	case kindPredict:
		if r.Inputs == nil {
			return nil, validation(`missing field "inputs"`)
		}
		j.pairs, j.single = r.Inputs.pairs, r.Inputs.single
	case kindScore:
		if r.Text1 == nil || r.Text2 == nil {
			return nil, validation(`missing field "text_1" or "text_2"`)
		}
		a, b := r.Text1.items, r.Text2.items
		switch {
		case len(a) == 1:
			for _, t := range b {
				j.pairs = append(j.pairs, engine.Pair{Query: a[0], Passage: t})
			}
		case len(a) == len(b):
			for i := range a {
				j.pairs = append(j.pairs, engine.Pair{Query: a[i], Passage: b[i]})
			}
		default:
			return nil, validation("text_1 has %d texts and text_2 %d: want one text_1, or as many as text_2", len(a), len(b))
		}
		j.single = r.Text1.single && r.Text2.single
	}
	return j, nil
}

// jsonError drops encoding/json's Go type names from what clients see.
func jsonError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Sprintf("field %q: wrong type (%s)", te.Field, te.Value)
		}
		return fmt.Sprintf("wrong type (%s) at offset %d", te.Value, te.Offset)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}
