package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestShardSet(t *testing.T) {
	for _, c := range []struct {
		in    string
		index int
		count int
		ok    bool
	}{
		{"0/1", 0, 1, true}, {"2/3", 2, 3, true}, {"9/10", 9, 10, true},
		{"3/3", 0, 0, false}, {"-1/3", 0, 0, false}, {"0/0", 0, 0, false},
		{"1", 0, 0, false}, {"a/b", 0, 0, false}, {"1/2/3", 0, 0, false}, {"", 0, 0, false},
	} {
		var s shard
		err := s.Set(c.in)
		if (err == nil) != c.ok || s.index != c.index || s.count != c.count {
			t.Errorf("Set(%q) = %v, {%d %d}; want ok=%v {%d %d}", c.in, err, s.index, s.count, c.ok, c.index, c.count)
		}
	}
}

// TestScoreShard runs every shard of a split and checks that each output
// line carries an input line number of its own shard, that the shards cover
// the input exactly once, and that merging them with the command --help
// documents gives the unsharded output byte for byte.
func TestScoreShard(t *testing.T) {
	for _, name := range []string{"pairs.tsv", "pairs.jsonl", "documents.jsonl"} {
		for _, n := range []int{1, 3, 7} {
			in := filepath.Join(cliData, name)
			whole := minilm(t, nil, score(in)...)
			if whole.code != 0 {
				t.Fatalf("%s: exit %d: %s", name, whole.code, whole.stderr)
			}
			dir := t.TempDir()
			var outs []string
			seen := map[int]bool{}
			for i := range n {
				out := filepath.Join(dir, "scored-"+strconv.Itoa(i)+".out")
				r := minilm(t, nil, score("--shard", strconv.Itoa(i)+"/"+strconv.Itoa(n), "-o", out, in)...)
				if r.code != 0 || r.stderr != "" {
					t.Fatalf("%s shard %d/%d: exit %d: %s", name, i, n, r.code, r.stderr)
				}
				outs = append(outs, out)
				data, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
					if l == "" {
						continue
					}
					num, _, _ := strings.Cut(l, "\t")
					line, err := strconv.Atoi(num)
					if err != nil || (line-1)%n != i || seen[line] {
						t.Fatalf("%s shard %d/%d: line %.60q: not a new line number of this shard", name, i, n, l)
					}
					seen[line] = true
				}
			}
			if want := len(readLines(t, in)); len(seen) != want {
				t.Errorf("%s in %d shards: %d records, want %d", name, n, len(seen), want)
			}
			merged := mergeShards(t, outs)
			if merged != whole.stdout {
				t.Errorf("%s in %d shards: merged output differs:\n%s", name, n, firstDiff(merged, whole.stdout))
			}
		}
	}
}

// mergeShards runs the merge that `minilm help score` shows.
func mergeShards(t *testing.T, outs []string) string {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh to run the documented merge command")
	}
	cmd := exec.Command("sh", "-c", `sort -m -s -t "$(printf '\t')" -k1,1n "$@" | cut -f2-`, "merge")
	cmd.Args = append(cmd.Args, outs...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("merge: %v", err)
	}
	return string(out)
}

// TestScoreShardInvalid: a bad line is reported by the shard that owns it
// alone, with its line number, and stops only that shard.
func TestScoreShardInvalid(t *testing.T) {
	in := filepath.Join(cliData, "skip.jsonl")
	p := "minilm: " + in
	for i, want := range []string{
		p + ":4: missing \"passage\" (or \"documents\") (skipped)\nminilm: skipped 1 invalid record(s)\n",
		p + ":2: bad JSON: invalid character 'o' looking for beginning of value (skipped)\n" +
			p + ":5: \"documents\" item 1 is a number, not a string (skipped)\nminilm: skipped 2 invalid record(s)\n",
		"",
	} {
		r := minilm(t, nil, score("--skip-invalid", "--shard", strconv.Itoa(i)+"/3", in)...)
		if r.code != 0 || r.stderr != want {
			t.Errorf("shard %d/3: exit %d, stderr\n%s\nwant\n%s", i, r.code, r.stderr, want)
		}
	}
	r := minilm(t, nil, score("--shard", "1/3", in)...)
	if r.code != 2 || !strings.HasPrefix(r.stderr, p+":2: bad JSON") || r.stdout != "" {
		t.Errorf("shard 1/3 without --skip-invalid: exit %d, stderr %q, stdout %q", r.code, r.stderr, r.stdout)
	}
}

func TestScoreShardUsage(t *testing.T) {
	tsv := filepath.Join(cliData, "pairs.tsv")
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{score("--shard", "3/3", tsv), `minilm score: invalid value "3/3" for flag -shard: "3/3": want 0 <= I < N`},
		{score("--shard", "x", tsv), `minilm score: invalid value "x" for flag -shard: "x": want I/N`},
		{score("--shard", "0/2", tsv, tsv), "minilm: --shard 0/2 scores one input, got 2"},
		{score("--shard", "0/2", filepath.Join(cliData, "pairs.csv")), "minilm: --shard works on jsonl and tsv input, not csv"},
		{score("--shard", "0/2", "--format", "csv", "-"), "minilm: --shard works on jsonl and tsv input, not csv"},
	} {
		r := minilm(t, strings.NewReader(""), c.args...)
		if r.code != 2 || !strings.HasPrefix(r.stderr, c.msg) || r.stdout != "" {
			t.Errorf("minilm %q: exit %d, stderr %q; want 2, %q", c.args, r.code, r.stderr, c.msg)
		}
	}
}
