"""The BM25-style sparse encoder both stores index: words, stable ids, saturated weights."""

from mnemo.retrieval.stores.sparse import SparseEncoder, stem, term_id, words


def test_words_are_lowercased_unicode_without_stopwords():
    assert words("The Café in Zürich, and its tool_call!") == ["café", "zürich", "tool", "call"]
    assert words("東京 2024") == ["東京", "2024"]


def test_term_ids_are_stable_31_bit_numbers():
    # Pinned: a change here silently breaks every sparse vector already indexed.
    assert term_id("zanzibar") == term_id("zanzibar") == 920462936
    assert all(0 <= term_id(w) < 2**31 for w in ("a", "b", "zanzibar", "東京"))


def test_document_weights_saturate_and_shrink_with_length():
    encoder = SparseEncoder()
    once, thrice = encoder.document("piano"), encoder.document("piano piano piano")
    assert once.indices == thrice.indices == [term_id("piano")]
    assert once.values[0] < thrice.values[0] < encoder.k1 + 1
    padded = encoder.document("piano " + " ".join(f"w{i}" for i in range(80)))
    assert padded.values[padded.indices.index(term_id("piano"))] < once.values[0]


def test_query_weighs_each_distinct_word_once():
    query = SparseEncoder().query("piano piano lessons of the week")
    assert sorted(query.indices) == query.indices
    assert dict(zip(query.indices, query.values, strict=True)) == {
        term_id(stem("piano")): 1.0,
        term_id(stem("lessons")): 1.0,
        term_id(stem("week")): 1.0,
    }
    assert SparseEncoder().query("the of and").indices == []
