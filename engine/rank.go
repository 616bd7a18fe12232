package engine

import "sort"

// RankScores orders documents by their scores, best first (ties keep input
// order); topK > 0 keeps only the first topK. scores[i] is document i's, so
// a scorer that is not a Model (a replica pool) ranks exactly as Rank does.
func RankScores(scores []float32, topK int) []Ranked {
	ranked := make([]Ranked, len(scores))
	for i, s := range scores {
		ranked[i] = Ranked{Index: i, Score: s}
	}
	sort.SliceStable(ranked, func(a, b int) bool { return ranked[a].Score > ranked[b].Score })
	if topK > 0 && topK < len(ranked) {
		ranked = ranked[:topK]
	}
	return ranked
}
