package pairfile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/minilm-dev/minilm/engine"
)

// scoreAll fills a parsed record's scores with 1.5, 2.5, ...
func scoreAll(r *record) {
	for i := range r.scores {
		r.scores[i] = 1.5 + float32(i)
	}
}

func TestParseJSONL(t *testing.T) {
	cases := []struct {
		name, in, want string
		pairs          []engine.Pair
	}{
		{"plain", `{"query":"q","passage":"p"}`, `{"query":"q","passage":"p","score":1.5}`,
			[]engine.Pair{{Query: "q", Passage: "p"}}},
		{"order and other fields kept", `{"id":7,"passage":"p","meta":{"a":[1,{"b":null}]},"query":"q","z":"\u00e9"}`,
			`{"id":7,"passage":"p","meta":{"a":[1,{"b":null}]},"query":"q","z":"\u00e9","score":1.5}`,
			[]engine.Pair{{Query: "q", Passage: "p"}}},
		{"spaces inside kept", `  { "query" : "q" ,	"passage" : "p" }`, `  { "query" : "q" ,	"passage" : "p","score":1.5 }`,
			[]engine.Pair{{Query: "q", Passage: "p"}}},
		{"trailing spaces and CR dropped", "{\"query\":\"q\",\"passage\":\"p\"}  \t\r", `{"query":"q","passage":"p","score":1.5}`,
			[]engine.Pair{{Query: "q", Passage: "p"}}},
		{"number last", `{"query":"q","passage":"p","n":12}`, `{"query":"q","passage":"p","n":12,"score":1.5}`,
			[]engine.Pair{{Query: "q", Passage: "p"}}},
		{"existing score replaced", `{"score": 9.75e3, "query":"q","passage":"p"}`, `{"score": 1.5, "query":"q","passage":"p"}`,
			[]engine.Pair{{Query: "q", Passage: "p"}}},
		{"empty strings", `{"query":"","passage":""}`, `{"query":"","passage":"","score":1.5}`,
			[]engine.Pair{{Query: "", Passage: ""}}},
		{"escaped keys and values", `{"\u0071uery":"a\"b\\c\n","passage":"\ud83d\ude00"}`, `{"\u0071uery":"a\"b\\c\n","passage":"\ud83d\ude00","score":1.5}`,
			[]engine.Pair{{Query: "a\"b\\c\n", Passage: "😀"}}},
		{"duplicate key: last wins", `{"query":"a","query":"b","passage":"p"}`, `{"query":"a","query":"b","passage":"p","score":1.5}`,
			[]engine.Pair{{Query: "b", Passage: "p"}}},
		{"documents", `{"query":"q","documents":["a","b"],"k":1}`, `{"query":"q","documents":["a","b"],"k":1,"scores":[1.5,2.5]}`,
			[]engine.Pair{{Query: "q", Passage: "a"}, {Query: "q", Passage: "b"}}},
		{"no documents", `{"query":"q","documents":[]}`, `{"query":"q","documents":[],"scores":[]}`,
			[]engine.Pair{}},
		{"documents: scores replaced, score kept", `{"scores":[0],"score":3,"query":"q","documents":["a"]}`, `{"scores":[1.5],"score":3,"query":"q","documents":["a"]}`,
			[]engine.Pair{{Query: "q", Passage: "a"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r record
			if err := parseJSONL([]byte(c.in), &r); err != nil {
				t.Fatalf("parseJSONL(%s): %v", c.in, err)
			}
			if !reflect.DeepEqual(r.pairs, c.pairs) {
				t.Errorf("pairs = %q, want %q", r.pairs, c.pairs)
			}
			scoreAll(&r)
			got := string(jsonlLine(t, &r))
			if got != c.want+"\n" {
				t.Errorf("output\n got %s want %s", got, c.want)
			}
			if !json.Valid([]byte(got)) {
				t.Errorf("output is not valid JSON: %s", got)
			}
		})
	}
}

func TestParseJSONLErrors(t *testing.T) {
	cases := []struct{ name, in, reason string }{
		{"not JSON", `query=q`, "bad JSON"},
		{"truncated", `{"query":"q","passage":`, "bad JSON"},
		{"unclosed", `{"query":"q","passage":"p"`, "bad JSON"},
		{"trailing comma", `{"query":"q","passage":"p",}`, "bad JSON"},
		{"two objects", `{"query":"q","passage":"p"} {}`, "data after the object"},
		{"array", `["q","p"]`, "a JSON array, not an object: minilm reads JSON Lines"},
		{"string", `"q"`, "not a JSON object"},
		{"no query", `{"passage":"p"}`, `missing "query"`},
		{"no passage", `{"query":"q"}`, `missing "passage"`},
		{"query number", `{"query":1,"passage":"p"}`, `"query" is a number, not a string`},
		{"passage null", `{"query":"q","passage":null}`, `"passage" is null, not a string`},
		{"passage object", `{"query":"q","passage":{}}`, `"passage" is an object`},
		{"documents string", `{"query":"q","documents":"a"}`, `"documents" is a string, not an array`},
		{"documents item", `{"query":"q","documents":["a",2]}`, `"documents" item 1 is a number`},
		{"both", `{"query":"q","passage":"p","documents":[]}`, `both "passage" and "documents"`},
		{"invalid UTF-8", "{\"query\":\"q\xff\",\"passage\":\"p\"}", "invalid UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r record
			err := parseJSONL([]byte(c.in), &r)
			if err == nil || !strings.Contains(err.Error(), c.reason) {
				t.Fatalf("parseJSONL(%s) = %v, want an error containing %q", c.in, err, c.reason)
			}
		})
	}
}

func TestParseTSV(t *testing.T) {
	var r record
	if err := parseTSV([]byte("what is go?\tGo is a language. \r"), &r); err != nil {
		t.Fatal(err)
	}
	if want := []engine.Pair{{Query: "what is go?", Passage: "Go is a language. "}}; !reflect.DeepEqual(r.pairs, want) {
		t.Errorf("pairs = %q, want %q", r.pairs, want)
	}
	r.scores[0] = -0.25
	if got, want := string(tsvLine(t, &r)), "what is go?\tGo is a language. \t-0.25\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
	r = record{}
	if err := parseTSV([]byte("\t"), &r); err != nil || r.pairs[0] != (engine.Pair{}) {
		t.Errorf(`parseTSV("\t") = %v, %q; want empty query and passage`, err, r.pairs)
	}
	for in, reason := range map[string]string{
		"only a query":    "wrong column count: 1, want 2",
		"a\tb\tc":         "wrong column count: 3, want 2",
		"q\xc3\tp":        "invalid UTF-8",
		"q\t\xed\xa0\x80": "invalid UTF-8", // a UTF-16 surrogate encoded in UTF-8
	} {
		if err := parseTSV([]byte(in), &record{}); err == nil || !strings.Contains(err.Error(), reason) {
			t.Errorf("parseTSV(%q) = %v, want %q", in, err, reason)
		}
	}
}

func TestAppendScore(t *testing.T) {
	for _, v := range []float32{6.451303482055664, 0.1, -3.5012679, 1e-7, 123456789, 0, float32(math.Copysign(0, -1)), math.MaxFloat32, math.SmallestNonzeroFloat32} {
		s := string(AppendScore(nil, v))
		back, err := strconv.ParseFloat(s, 32)
		if err != nil || float32(back) != v || math.Signbit(back) != math.Signbit(float64(v)) {
			t.Errorf("AppendScore(%v) = %q reads back as %v, %v", v, s, back, err)
		}
		if len(s) > len(strconv.FormatFloat(float64(v), 'g', -1, 64)) {
			t.Errorf("AppendScore(%v) = %q is longer than the float64 form", v, s)
		}
	}
	if got := string(AppendScore(nil, 6.451303482055664)); got != "6.4513035" {
		t.Errorf("AppendScore(6.451303482055664) = %s, want 6.4513035 (shortest float32)", got)
	}
	if got := string(AppendJSONScore(nil, float32(math.NaN()))); got != "null" {
		t.Errorf("AppendJSONScore(NaN) = %s, want null", got)
	}
}

// FuzzParseJSONL checks that any line either fails to parse, or parses into
// an output that is one valid JSON object holding every input field (last
// duplicate wins, as in encoding/json) plus the score.
func FuzzParseJSONL(f *testing.F) {
	for _, s := range []string{
		`{"query":"q","passage":"p"}`, `{"query":"q","documents":["a","b"]}`, ` { "score":1 , "query":"","passage":"" } `,
		`{"query":"q","passage":"p","x":[{"y":null}]}`, `{}`, `[]`, `{"query":"\ud800","passage":"p"}`,
		`{"query":"\ud83d\ude00\u00e9\n\"\\\/","documents":["\ud800\u0041","\udc00x",""]}`, `{"query":"q","passage":"p","n":-1.5e3,"t":true}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var r record
		if parseJSONL(line, &r) != nil {
			return
		}
		scoreAll(&r)
		out := jsonlLine(t, &r)
		var in, got map[string]json.RawMessage
		if err := json.Unmarshal(line, &in); err != nil {
			t.Fatalf("parsed %q, which encoding/json rejects: %v", line, err)
		}
		// The in-place string decoding agrees with encoding/json's.
		var q string
		var docs []string
		if err := json.Unmarshal(in["query"], &q); err != nil {
			t.Fatalf("query %s: %v", in["query"], err)
		}
		for _, p := range r.pairs {
			if p.Query != q {
				t.Fatalf("query %q, encoding/json %q", p.Query, q)
			}
		}
		if r.many {
			if err := json.Unmarshal(in["documents"], &docs); err != nil || len(docs) != len(r.pairs) {
				t.Fatalf("documents %q: %v", in["documents"], err)
			}
		} else {
			docs = []string{""}
			if err := json.Unmarshal(in["passage"], &docs[0]); err != nil {
				t.Fatalf("passage %q: %v", in["passage"], err)
			}
		}
		for i, d := range docs {
			if r.pairs[i].Passage != d {
				t.Fatalf("passage %d %q, encoding/json %q", i, r.pairs[i].Passage, d)
			}
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("output %q of %q is not a JSON object: %v", out, line, err)
		}
		key, want := "score", `1.5`
		if r.many {
			key = "scores"
			var b bytes.Buffer
			b.WriteByte('[')
			for i, s := range r.scores {
				if i > 0 {
					b.WriteByte(',')
				}
				b.Write(AppendScore(nil, s))
			}
			b.WriteByte(']')
			want = b.String()
		}
		if string(got[key]) != want {
			t.Fatalf("output %q: %s = %s, want %s", out, key, got[key], want)
		}
		delete(got, key)
		delete(in, key)
		if len(got) != len(in) {
			t.Fatalf("output %q has %d fields, input %q has %d", out, len(got), line, len(in))
		}
		for k, v := range in {
			if !bytes.Equal(compactJSON(t, got[k]), compactJSON(t, v)) {
				t.Fatalf("field %q changed: %s → %s", k, v, got[k])
			}
		}
	})
}

func compactJSON(t *testing.T, raw []byte) []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatalf("compact %q: %v", raw, err)
	}
	return b.Bytes()
}

func FuzzParseTSV(f *testing.F) {
	f.Add([]byte("q\tp"))
	f.Add([]byte("\t\r"))
	f.Fuzz(func(t *testing.T, line []byte) {
		var r record
		if parseTSV(line, &r) != nil {
			return
		}
		r.scores[0] = 2
		out := tsvLine(t, &r)
		trimmed := bytes.TrimSuffix(line, []byte{'\r'})
		if want := append(append([]byte{}, trimmed...), "\t2\n"...); !bytes.Equal(out, want) {
			t.Fatalf("output %q, want %q", out, want)
		}
		if r.pairs[0].Query+"\t"+r.pairs[0].Passage != string(trimmed) {
			t.Fatalf("pair %q does not rebuild the line %q", r.pairs[0], line)
		}
	})
}

// jsonlLine and tsvLine are the line the record writer prints for r.
func jsonlLine(t testing.TB, r *record) []byte { return written(t, r.writeJSONL) }
func tsvLine(t testing.TB, r *record) []byte   { return written(t, r.writeTSV) }

func written(t testing.TB, write func(*bufio.Writer, []byte) ([]byte, error)) []byte {
	t.Helper()
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	_, err := write(w, nil)
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
