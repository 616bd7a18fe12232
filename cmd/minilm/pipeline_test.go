package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/minilm-dev/minilm/engine"
	"github.com/minilm-dev/minilm/engine/batch"
)

// fakeScorer scores a pair as len(query) + len(passage)/1000, so every
// output line can be checked on its own. Tokenizing a query "TOOLONG" fails.
type fakeScorer struct {
	mu      sync.Mutex
	batches [][]engine.Sequence
	// onScore, when set, runs at the start of every ScoreSequences call
	// (n counts calls from 1); a non-nil error fails the call.
	onScore func(ctx context.Context, n int) error
}

func (f *fakeScorer) Tokenize(p engine.Pair) (engine.Sequence, error) {
	if p.Query == "TOOLONG" {
		return engine.Sequence{}, errors.New("query too long")
	}
	return engine.Sequence{IDs: []int32{int32(len(p.Query)), int32(len(p.Passage))}}, nil
}

func (f *fakeScorer) ScoreSequences(ctx context.Context, seqs []engine.Sequence) ([]float32, error) {
	f.mu.Lock()
	f.batches = append(f.batches, seqs)
	n := len(f.batches)
	f.mu.Unlock()
	if f.onScore != nil {
		if err := f.onScore(ctx, n); err != nil {
			return nil, err
		}
	}
	out := make([]float32, len(seqs))
	for i, s := range seqs {
		out[i] = fakeScore(int(s.IDs[0]), int(s.IDs[1]))
	}
	return out, nil
}

func fakeScore(q, p int) float32 { return float32(q) + float32(p)/1000 }

func fakeScoreString(q, p string) string {
	return string(appendScore(nil, fakeScore(len(q), len(p))))
}

// runFake runs the pipeline over text in the given format.
func runFake(t *testing.T, sc batch.Scorer, fm format, text string, cfg pipelineConfig) (string, pipelineStats, error) {
	t.Helper()
	var out bytes.Buffer
	src := newMultiSource([]input{{name: "in", format: fm, r: strings.NewReader(text)}})
	st, err := runPipeline(context.Background(), sc, src, newRecordWriter(&out), cfg)
	return out.String(), st, err
}

// docsInput builds JSONL records with 0..6 documents each, and the output
// the fake scorer must produce for them.
func docsInput(n int) (in, want string) {
	var ib, wb strings.Builder
	for i := range n {
		q := strings.Repeat("q", i%5)
		if i%3 == 0 {
			p := strings.Repeat("p", i)
			fmt.Fprintf(&ib, `{"i":%d,"query":"%s","passage":"%s"}`+"\n", i, q, p)
			fmt.Fprintf(&wb, `{"i":%d,"query":"%s","passage":"%s","score":%s}`+"\n", i, q, p, fakeScoreString(q, p))
			continue
		}
		var docs, scores []string
		for d := range i % 7 {
			p := strings.Repeat("d", i+d)
			docs = append(docs, `"`+p+`"`)
			scores = append(scores, fakeScoreString(q, p))
		}
		fmt.Fprintf(&ib, `{"i":%d,"query":"%s","documents":[%s]}`+"\n", i, q, strings.Join(docs, ","))
		fmt.Fprintf(&wb, `{"i":%d,"query":"%s","documents":[%s],"scores":[%s]}`+"\n", i, q, strings.Join(docs, ","), strings.Join(scores, ","))
	}
	return ib.String(), wb.String()
}

func TestPipelineOrder(t *testing.T) {
	in, want := docsInput(200)
	for _, cfg := range []pipelineConfig{
		{batchSize: 1, tokenizers: 1, scorers: 1},
		{batchSize: 3, tokenizers: 4, scorers: 3},
		{batchSize: 7, tokenizers: 2, scorers: 2},
		{batchSize: 32, tokenizers: 3, scorers: 1},
		{batchSize: 1000, tokenizers: 1, scorers: 1},
	} {
		t.Run(fmt.Sprintf("batch=%d,tok=%d,score=%d", cfg.batchSize, cfg.tokenizers, cfg.scorers), func(t *testing.T) {
			sc := &fakeScorer{}
			got, st, err := runFake(t, sc, formatJSONL, in, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("output differs from the input order / scores:\n%s", firstDiff(got, want))
			}
			if st.records != 200 {
				t.Errorf("records = %d, want 200", st.records)
			}
			for i, b := range sc.batches {
				if len(b) > cfg.batchSize {
					t.Errorf("batch %d has %d pairs, more than --batch-size %d", i, len(b), cfg.batchSize)
				}
			}
		})
	}
}

// firstDiff shows the first line where got and want differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d\n got %q\nwant %q", i+1, gl, wl)
		}
	}
	return "(equal)"
}

func TestPipelineFormats(t *testing.T) {
	cases := []struct {
		name       string
		fm         format
		in, want   string
		errPrefix  string
		wantStderr []string
	}{
		{name: "tsv", fm: formatTSV,
			in:   "a\tbb\n\nccc\t\r\n\t\n",
			want: "a\tbb\t" + fakeScoreString("a", "bb") + "\nccc\t\t3\n\t\t0\n"},
		{name: "csv", fm: formatCSV,
			in:   "\uFEFFid,Passage,query\n1,\"two\nlines\",\"q,\"\"x\"\"\"\n2,,\n",
			want: "id,Passage,query,score\n1,\"two\nlines\",\"q,\"\"x\"\"\"," + fakeScoreString(`q,"x"`, "two\nlines") + "\n2,,,0\n"},
		{name: "csv score column replaced", fm: formatCSV,
			in:   "score,query,passage\n9,a,b\n",
			want: "score,query,passage\n" + fakeScoreString("a", "b") + ",a,b\n"},
		{name: "csv header only", fm: formatCSV, in: "query,passage\n", want: "query,passage,score\n"},
		{name: "csv empty", fm: formatCSV, in: "", want: ""},
		{name: "jsonl empty", fm: formatJSONL, in: "", want: ""},
		{name: "jsonl blank lines", fm: formatJSONL, in: "\n \r\n", want: ""},
		{name: "csv without passage", fm: formatCSV, in: "query,text\na,b\n", want: "",
			errPrefix: `in: the CSV header must name a "query" and a "passage" column`},
		{name: "csv wrong column count", fm: formatCSV, in: "query,passage\na,b\nc\n", want: "query,passage,score\na,b," + fakeScoreString("a", "b") + "\n",
			errPrefix: "in:3: wrong column count: 1, want 2"},
		{name: "csv bad quote", fm: formatCSV, in: "query,passage\na,b\n\"c,d\n", want: "query,passage,score\na,b," + fakeScoreString("a", "b") + "\n",
			errPrefix: "in:3: extraneous or missing \" in quoted-field"},
		{name: "csv invalid UTF-8", fm: formatCSV, in: "query,passage\na,\xff\n", want: "query,passage,score\n",
			errPrefix: "in:2: field 2: invalid UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, _, err := runFake(t, &fakeScorer{}, c.fm, c.in, pipelineConfig{batchSize: 2})
			if got != c.want {
				t.Errorf("output\n got %q\nwant %q", got, c.want)
			}
			switch {
			case c.errPrefix == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case c.errPrefix != "" && (err == nil || !strings.HasPrefix(err.Error(), c.errPrefix)):
				t.Errorf("error %v, want %q...", err, c.errPrefix)
			}
		})
	}
}

// TestPipelineInputs scores several inputs in one run: outputs follow one
// another, a CSV header equal to the previous one is not repeated, and a
// byte order mark opening a file is dropped.
func TestPipelineInputs(t *testing.T) {
	inputs := []input{
		{name: "a.csv", format: formatCSV, r: strings.NewReader("query,passage\na,b\n")},
		{name: "b.csv", format: formatCSV, r: strings.NewReader("query,passage\nc,d\n")},
		{name: "c.jsonl", format: formatJSONL, r: strings.NewReader("\uFEFF{\"query\":\"e\",\"passage\":\"f\"}")},
		{name: "d.csv", format: formatCSV, r: strings.NewReader("passage,query\ng,h\n")},
		{name: "e.tsv", format: formatTSV, r: strings.NewReader("\uFEFFi\tj")},
	}
	var out bytes.Buffer
	if _, err := runPipeline(context.Background(), &fakeScorer{}, newMultiSource(inputs), newRecordWriter(&out), pipelineConfig{batchSize: 3}); err != nil {
		t.Fatal(err)
	}
	want := "query,passage,score\na,b," + fakeScoreString("a", "b") + "\nc,d," + fakeScoreString("c", "d") + "\n" +
		`{"query":"e","passage":"f","score":` + fakeScoreString("e", "f") + "}\n" +
		"passage,query,score\ng,h," + fakeScoreString("h", "g") + "\n" +
		"i\tj\t" + fakeScoreString("i", "j") + "\n"
	if out.String() != want {
		t.Errorf("output\n%s\nwant\n%s", out.String(), want)
	}
}

// badLines has a malformed record on lines 3, 5 and 6.
const badLines = `{"query":"a","passage":"b"}
{"query":"c","documents":["d","e"]}
{"query":"f"}
{"query":"g","passage":"h"}
{"query":"TOOLONG","passage":"x"}
not json
{"query":"i","passage":"j"}
`

func TestPipelineStopsAtBadRecord(t *testing.T) {
	for _, bs := range []int{1, 2, 32} {
		got, st, err := runFake(t, &fakeScorer{}, formatJSONL, badLines, pipelineConfig{batchSize: bs})
		want := `{"query":"a","passage":"b","score":` + fakeScoreString("a", "b") + "}\n" +
			`{"query":"c","documents":["d","e"],"scores":[` + fakeScoreString("c", "d") + "," + fakeScoreString("c", "e") + "]}\n"
		if got != want {
			t.Errorf("batch %d: output\n got %q\nwant %q", bs, got, want)
		}
		var ie *inputError
		if !errors.As(err, &ie) || err.Error() != `in:3: missing "passage" (or "documents")` {
			t.Errorf("batch %d: error %v, want in:3: missing passage", bs, err)
		}
		if st.records != 2 {
			t.Errorf("batch %d: %d records written, want 2", bs, st.records)
		}
	}
}

func TestPipelineSkipInvalid(t *testing.T) {
	var skipped []string
	cfg := pipelineConfig{batchSize: 2, skipInvalid: true, onSkip: func(err error) { skipped = append(skipped, err.Error()) }}
	got, st, err := runFake(t, &fakeScorer{}, formatJSONL, badLines, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(got, "\n"); n != 4 || !strings.HasSuffix(got, `{"query":"i","passage":"j","score":`+fakeScoreString("i", "j")+"}\n") {
		t.Errorf("output has %d lines, want 4 ending with i/j:\n%s", n, got)
	}
	want := []string{
		`in:3: missing "passage" (or "documents")`,
		"in:5: query too long",
		"in:6: bad JSON: invalid character 'o' in literal null (expecting 'u')",
	}
	if strings.Join(skipped, "\n") != strings.Join(want, "\n") || st.skipped != 3 {
		t.Errorf("skipped %d: %q, want %q", st.skipped, skipped, want)
	}
}

func TestPipelineScoreError(t *testing.T) {
	boom := errors.New("backend fell over")
	sc := &fakeScorer{onScore: func(_ context.Context, n int) error {
		if n == 3 {
			return boom
		}
		return nil
	}}
	in, want := docsInput(40)
	got, _, err := runFake(t, sc, formatJSONL, in, pipelineConfig{batchSize: 4})
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want %v", err, boom)
	}
	if !strings.HasPrefix(want, got) || !strings.HasSuffix(got, "\n") || got == "" {
		t.Fatalf("output is not a non-empty prefix of whole lines:\n%s", got)
	}
}

// TestPipelineCancel cancels the run while the fifth batch is being scored:
// the output holds exactly the records of the four batches before it.
func TestPipelineCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	before := 0 // records in the batches before the fifth
	var sc *fakeScorer
	sc = &fakeScorer{onScore: func(ctx context.Context, n int) error {
		if n == 5 {
			sc.mu.Lock()
			for _, b := range sc.batches[:4] {
				before += len(b)
			}
			sc.mu.Unlock()
			cancel()
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}}
	var in strings.Builder
	var want []string
	for i := range 100 {
		fmt.Fprintf(&in, "q%d\tp\n", i)
		want = append(want, fmt.Sprintf("q%d\tp\t%s\n", i, fakeScoreString(fmt.Sprint("q", i), "p")))
	}
	var out bytes.Buffer
	src := newMultiSource([]input{{name: "in", format: formatTSV, r: strings.NewReader(in.String())}})
	_, err := runPipeline(ctx, sc, src, newRecordWriter(&out), pipelineConfig{batchSize: 3, scorers: 1})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if before < 4 || out.String() != strings.Join(want[:before], "") {
		t.Fatalf("output\n%s\nwant the %d records of the first four batches:\n%s", out.String(), before, strings.Join(want[:before], ""))
	}
}

// TestPipelineStreams feeds records through a pipe one at a time: each one's
// output must come out before the next is written, so a partial batch is not
// held back waiting to fill up.
func TestPipelineStreams(t *testing.T) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		src := newMultiSource([]input{{name: "in", format: formatTSV, r: inR}})
		_, err := runPipeline(context.Background(), &fakeScorer{}, src, newRecordWriter(outW), pipelineConfig{batchSize: 32})
		outW.Close()
		done <- err
	}()
	lines := bufio.NewReader(outR)
	for i := range 5 {
		fmt.Fprintf(inW, "q\tp%d\n", i)
		got, err := lines.ReadString('\n')
		if want := fmt.Sprintf("q\tp%d\t%s\n", i, fakeScoreString("q", fmt.Sprint("p", i))); err != nil || got != want {
			t.Fatalf("line %d: %q, %v; want %q", i, got, err, want)
		}
	}
	inW.Close()
	if rest, _ := io.ReadAll(lines); len(rest) != 0 {
		t.Errorf("unexpected output after the input closed: %q", rest)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// stuckSource yields one record, then blocks in next like a read from a
// terminal that nothing interrupts.
type stuckSource struct {
	sent  bool
	block chan struct{}
}

func (s *stuckSource) next() (*record, error) {
	if !s.sent {
		s.sent = true
		return &record{format: formatTSV, raw: []byte("q\tp"), pairs: []engine.Pair{{Query: "q", Passage: "p"}}, scores: make([]float32, 1)}, nil
	}
	<-s.block
	return nil, io.EOF
}

// TestPipelineCancelWhileReading: an interrupt while the reader is stuck in
// a read ends the run at once, after writing what was scored.
func TestPipelineCancelWhileReading(t *testing.T) {
	src := &stuckSource{block: make(chan struct{})}
	defer close(src.block)
	ctx, cancel := context.WithCancel(context.Background())
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := runPipeline(ctx, &fakeScorer{}, src, newRecordWriter(outW), pipelineConfig{batchSize: 4})
		outW.Close()
		done <- err
	}()
	line, err := bufio.NewReader(outR).ReadString('\n')
	if want := "q\tp\t" + fakeScoreString("q", "p") + "\n"; err != nil || line != want {
		t.Fatalf("first line %q, %v; want %q", line, err, want)
	}
	cancel()
	go io.Copy(io.Discard, outR)
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

// endlessSource yields valid TSV records forever and counts them.
type endlessSource struct{ n atomic.Int64 }

func (s *endlessSource) next() (*record, error) {
	s.n.Add(1)
	r := &record{format: formatTSV, raw: []byte("q\tp"), pairs: []engine.Pair{{Query: "q", Passage: "p"}}, scores: make([]float32, 1)}
	return r, nil
}

// TestPipelineBoundedMemory checks that the reader never runs ahead of the
// scorer by more than the batcher's queue holds, however long the input.
func TestPipelineBoundedMemory(t *testing.T) {
	cfg := pipelineConfig{batchSize: 8, tokenizers: 2, scorers: 2}
	// The batcher's queue, the record in the reader's hand and the one the
	// source is producing.
	bound := int64(queueBound(cfg) + 2)
	src := &endlessSource{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var scored atomic.Int64
	var sc *fakeScorer
	sc = &fakeScorer{onScore: func(_ context.Context, n int) error {
		if ahead := src.n.Load() - scored.Load(); ahead > bound {
			t.Errorf("batch %d: the reader is %d records ahead of the scorer, bound %d", n, ahead, bound)
		}
		sc.mu.Lock()
		scored.Add(int64(len(sc.batches[n-1])))
		sc.mu.Unlock()
		if n == 200 {
			cancel()
		}
		return nil
	}}
	_, err := runPipeline(ctx, sc, src, newRecordWriter(io.Discard), cfg)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

// FuzzCSV runs CSV text through the pipeline: it must not panic, and when
// it succeeds the output must read back as the input rows with a score.
func FuzzCSV(f *testing.F) {
	f.Add("query,passage\na,b\n")
	f.Add("\uFEFFid,Passage,query,score\n1,\"x\ny\",\"q\"\"\",3\n")
	f.Add("query,passage\na\n")
	f.Fuzz(func(t *testing.T, text string) {
		var out bytes.Buffer
		src := newMultiSource([]input{{name: "in", format: formatCSV, r: strings.NewReader(text)}})
		_, err := runPipeline(context.Background(), &fakeScorer{}, src, newRecordWriter(&out), pipelineConfig{batchSize: 2})
		if err != nil {
			return
		}
		in, rerr := csv.NewReader(strings.NewReader(text)).ReadAll()
		if rerr != nil {
			t.Fatalf("the pipeline accepted CSV that encoding/csv rejects: %v", rerr)
		}
		got, err := csv.NewReader(&out).ReadAll()
		if err != nil {
			t.Fatalf("output %q is not CSV: %v", out.String(), err)
		}
		if len(got) != len(in) {
			t.Fatalf("%d output rows for %d input rows", len(got), len(in))
		}
		for i := range got {
			if len(got[i]) < len(in[i]) {
				t.Fatalf("row %d lost fields: %q → %q", i, in[i], got[i])
			}
		}
	})
}

// BenchmarkPipelineJSONL measures the CLI's own cost per record (read,
// parse, batch, tokenize with the fake scorer, splice, write): the ceiling
// on pairs/s that the pipeline puts above the model.
func BenchmarkPipelineJSONL(b *testing.B) {
	line := `{"id":12345,"query":"how many people live in berlin?","passage":"` + strings.Repeat("Berlin has a population of 3,520,031 registered inhabitants. ", 6) + `","meta":{"src":"bench"}}` + "\n"
	text := strings.Repeat(line, 10000)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for range b.N {
		src := newMultiSource([]input{{name: "bench", format: formatJSONL, r: strings.NewReader(text)}})
		if _, err := runPipeline(context.Background(), &fakeScorer{}, src, newRecordWriter(io.Discard), pipelineConfig{batchSize: 32, tokenizers: 2}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(10000*b.N)/b.Elapsed().Seconds(), "pairs/s")
}

// TestRankDocuments ranks on the batcher: best first, ties in input order,
// top-k kept, and a document that cannot be tokenized named by its index.
func TestRankDocuments(t *testing.T) {
	docs := []string{"bb", "dddd", "a", "cccc", "ccc"}
	got, err := rankDocuments(context.Background(), &fakeScorer{}, "q", docs, engine.RankOptions{TopK: 3})
	if err != nil {
		t.Fatal(err)
	}
	want := []engine.Ranked{{Index: 1, Score: fakeScore(1, 4)}, {Index: 3, Score: fakeScore(1, 4)}, {Index: 4, Score: fakeScore(1, 3)}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ranked %v, want %v", got, want)
	}
	if _, err := rankDocuments(context.Background(), &fakeScorer{}, "TOOLONG", docs, engine.RankOptions{}); err == nil || err.Error() != "document 0: query too long" {
		t.Errorf("error %v, want document 0: query too long", err)
	}
}
