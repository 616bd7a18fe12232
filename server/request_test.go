package server

import (
	"flag"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeUnion(t *testing.T) {
	j, e := decode([]byte(`{"query":"q","documents":["a",{"text":"b","title":"t"}],"top_k":1,"return_documents":true,"truncation_direction":"left","truncate":false,"max_tokens_per_doc":9}`), kindRerank)
	require.Nil(t, e)
	assert.Equal(t, []string{"a", "b"}, j.docs)
	assert.Equal(t, "b", j.pairs[1].Passage)
	assert.Equal(t, 1, j.topN)
	assert.True(t, *j.returnDocs)
	assert.True(t, j.fromLeft)
	assert.False(t, *j.truncate)
	assert.Equal(t, 9, j.maxDoc)

	j, e = decode([]byte(`{"query":"q","texts":["a"],"return_text":true,"raw_scores":true}`), kindRerank)
	require.Nil(t, e)
	assert.True(t, *j.returnDocs)
	assert.True(t, j.raw)

	j, e = decode([]byte(`{"inputs":[["a","b"],["c","d"]]}`), kindPredict)
	require.Nil(t, e)
	assert.False(t, j.single)
	assert.Equal(t, "d", j.pairs[1].Passage)

	j, e = decode([]byte(`{"text_1":"q","text_2":"p"}`), kindScore)
	require.Nil(t, e)
	assert.True(t, j.single)
	assert.Len(t, j.pairs, 1)

	_, e = decode([]byte(`[1,2]`), kindRerank)
	require.NotNil(t, e)
	assert.Equal(t, http.StatusBadRequest, e.status)
}

// FuzzDecode: no body panics the decoder; whatever it accepts is a usable
// job whose pairs match its documents.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"query":"q","texts":["a","b"],"raw_scores":true,"truncate":false,"truncation_direction":"Left"}`,
		`{"model":"m","query":"q","documents":["a",{"text":"b"}],"top_n":1,"return_documents":true,"max_tokens_per_doc":3}`,
		`{"inputs":[["q","p"]]}`, `{"inputs":["q","p"]}`, `{"text_1":["a","b"],"text_2":["c","d"]}`,
		`{"text_1":"a","text_2":["c","d"]}`, `{"query":null}`, `{"documents":[{}]}`, `[]`, `"x"`, ``, `{"top_k":-3}`,
	} {
		for k := range 3 {
			f.Add([]byte(s), uint8(k))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, k uint8) {
		j, e := decode(body, kind(k%3))
		if e != nil {
			if j != nil || e.status != http.StatusBadRequest || e.msg == "" {
				t.Fatalf("error %+v with job %+v", e, j)
			}
			return
		}
		if j.topN < 0 || j.maxDoc < 0 {
			t.Fatalf("negative limits accepted: %+v", j)
		}
		if kind(k%3) == kindRerank {
			if len(j.docs) != len(j.pairs) {
				t.Fatalf("%d documents, %d pairs", len(j.docs), len(j.pairs))
			}
			for i, p := range j.pairs {
				if p.Query != j.query || p.Passage != j.docs[i] {
					t.Fatalf("pair %d %+v does not match query %q document %q", i, p, j.query, j.docs[i])
				}
			}
		}
	})
}

func TestApplyEnv(t *testing.T) {
	newFS := func() (*flag.FlagSet, *string, *int, *bool, *ByteSize) {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		addr := fs.String("addr", "127.0.0.1:8080", "")
		tokens := fs.Int("max-batch-tokens", 16384, "")
		auto := fs.Bool("auto-truncate", true, "")
		limit := ByteSize(DefaultPayloadLimit)
		fs.Var(&limit, "payload-limit", "")
		fs.String("model", "default", "")
		return fs, addr, tokens, auto, &limit
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	fs, addr, tokens, auto, limit := newFS()
	used, err := ApplyEnv(fs, env(map[string]string{
		"MINILM_MAX_BATCH_TOKENS": "4096", "MAX_BATCH_TOKENS": "1", // MINILM_ wins over TEI's name
		"AUTO_TRUNCATE": "false", "PAYLOAD_LIMIT": "1MiB", "PORT": "9000", "MODEL_ID": "org/model",
	}))
	require.NoError(t, err)
	assert.Equal(t, 4096, *tokens)
	assert.False(t, *auto)
	assert.EqualValues(t, 1<<20, *limit)
	assert.Equal(t, "0.0.0.0:9000", *addr)
	assert.Equal(t, "org/model", fs.Lookup("model").Value.String())
	assert.ElementsMatch(t, []string{"MINILM_MAX_BATCH_TOKENS", "AUTO_TRUNCATE", "PAYLOAD_LIMIT", "PORT", "MODEL_ID"}, used)
	// The command line still wins.
	require.NoError(t, fs.Parse([]string{"--max-batch-tokens", "128"}))
	assert.Equal(t, 128, *tokens)

	fs, addr, _, _, _ = newFS()
	_, err = ApplyEnv(fs, env(map[string]string{"MINILM_ADDR": "127.0.0.1:1", "PORT": "9000"}))
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:1", *addr, "MINILM_ADDR wins over PORT")

	fs, _, _, _, _ = newFS()
	_, err = ApplyEnv(fs, env(map[string]string{"MINILM_MAX_BATCH_TOKENS": "lots"}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "MINILM_MAX_BATCH_TOKENS")
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"2MB": 2_000_000, "512KiB": 512 << 10, "1000": 1000, "1.5 mb": 1_500_000, "3G": 3e9, "7b": 7} {
		got, err := ParseBytes(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "MB", "-1MB", "0", "2XB", "1e30GB"} {
		_, err := ParseBytes(in)
		assert.Error(t, err, in)
	}
}
