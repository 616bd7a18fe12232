package main

import (
	"strconv"
	"strings"
)

// shard is the value of `minilm score --shard I/N`: the run scores only the
// records whose input line number L (1-based, blank lines counted) has
// (L-1) mod N == I. The split depends on line numbers alone, so N runs with
// I = 0..N-1 (a Kubernetes Indexed Job) cover every record exactly once, and
// a bad line is reported by the one shard that owns it. Each output line
// starts with the record's input line number and a tab, so the shards'
// outputs merge back into the unsharded output in input order:
//
//	sort -m -s -t "$(printf '\t')" -k1,1n scored-*.tsv | cut -f2-
//
// The zero value (N = 0) means no sharding.
type shard struct{ index, count int }

func (s *shard) String() string {
	if s.count == 0 {
		return ""
	}
	return strconv.Itoa(s.index) + "/" + strconv.Itoa(s.count)
}

func (s *shard) Set(v string) error {
	i, n, ok := strings.Cut(v, "/")
	index, err1 := strconv.Atoi(i)
	count, err2 := strconv.Atoi(n)
	if !ok || err1 != nil || err2 != nil {
		return usagef("%q: want I/N, e.g. 0/4", v)
	}
	if count < 1 || index < 0 || index >= count {
		return usagef("%q: want 0 <= I < N", v)
	}
	s.index, s.count = index, count
	return nil
}

func (s shard) enabled() bool { return s.count > 0 }

// check rejects inputs that cannot be sharded by line: several files (their
// line numbers would collide in the merge) and CSV (a quoted field may span
// lines, and every shard would need the header).
func (s shard) check(files []string, forced string) error {
	if !s.enabled() {
		return nil
	}
	if len(files) > 1 {
		return usagef("--shard %v scores one input, got %d", s.String(), len(files))
	}
	fm, known := formatJSONL, false
	if forced != "" {
		fm, _ = parseFormat(forced)
	} else if len(files) == 1 && files[0] != "-" {
		fm, known = formatOf(files[0])
		if !known {
			return nil // openInputs reports the unknown extension
		}
	}
	if fm == formatCSV {
		return usagef("--shard works on jsonl and tsv input, not csv (a CSV record may span lines)")
	}
	return nil
}

// shardSource passes on the records of src that belong to the shard.
type shardSource struct {
	src recordSource
	sh  shard
}

func (s *shardSource) next() (*record, error) {
	for {
		r, err := s.src.next()
		if err != nil || (r.line-1)%s.sh.count == s.sh.index {
			return r, err
		}
	}
}
