import pytest

from rag.fusion import interleave, reciprocal_rank_fusion


class TestReciprocalRankFusion:
    def test_empty(self):
        assert reciprocal_rank_fusion([]) == []
        assert reciprocal_rank_fusion([[], []]) == []

    def test_single_list_keeps_its_order(self):
        assert [key for key, _ in reciprocal_rank_fusion([["a", "b", "c"]])] == ["a", "b", "c"]

    def test_agreement_beats_a_single_first_place(self):
        fused = reciprocal_rank_fusion([["x", "b", "c"], ["y", "b", "c"]])
        assert fused[0][0] == "b"
        assert fused[0][1] == pytest.approx(2 / 62)

    def test_scores_follow_the_formula(self):
        fused = dict(reciprocal_rank_fusion([["a", "b"], ["b"]], k=10))
        assert fused == {"a": pytest.approx(1 / 11), "b": pytest.approx(1 / 12 + 1 / 11)}

    def test_duplicates_inside_a_list_count_once(self):
        assert dict(reciprocal_rank_fusion([["a", "a", "b"]]))["a"] == pytest.approx(1 / 61)

    def test_weights_scale_each_rankers_vote(self):
        fused = dict(reciprocal_rank_fusion([["a", "b"], ["b", "a"]], k=0, weights=[0.5, 1.0]))
        assert fused == {"a": pytest.approx(0.5 / 1 + 1 / 2), "b": pytest.approx(0.5 / 2 + 1 / 1)}

    def test_one_weight_per_ranking(self):
        with pytest.raises(ValueError):
            reciprocal_rank_fusion([["a"], ["b"]], weights=[1.0])

    def test_negative_k_is_rejected(self):
        with pytest.raises(ValueError):
            reciprocal_rank_fusion([["a"]], k=-1)


class TestInterleave:
    def test_round_robin_without_duplicates(self):
        assert interleave([["a", "b", "c"], ["b", "d"]], 10) == ["a", "b", "d", "c"]

    def test_limit(self):
        assert interleave([["a", "b"], ["c", "d"]], 3) == ["a", "c", "b"]

    def test_empty(self):
        assert interleave([], 5) == []
        assert interleave([[], []], 5) == []
