"""Validation scores are honest: the text a run is scored on does not recur in what it trains on."""

from __future__ import annotations

import numpy as np

from engine.data import prepare_data
from engine.dedup import distinct, fresh_paragraphs, window_overlap
from moetui.presets import load_preset

FOX = "The quick brown fox jumps over the lazy dog and runs far away into the dark forest"
TOPIC = "Loops\n*****\n\n" + FOX + "."


def test_the_quick_presets_validation_windows_almost_never_occur_in_its_training_tokens(token_cache_dir):
    """Before repeated paragraphs were dropped from the embedded corpus this was 12.6 %."""
    prepared = prepare_data(load_preset("quick")[0], token_cache_dir, lambda e: None)
    assert window_overlap(prepared.train_tokens, prepared.val_tokens, 32, 32) < 0.005
    assert window_overlap(prepared.train_tokens, prepared.val_tokens, 32, 16) < 0.005


def test_window_overlap_counts_validation_windows_found_anywhere_in_training():
    rng = np.random.default_rng(0)
    train = rng.integers(0, 2048, 10_000).astype(np.uint16)
    fresh = rng.integers(0, 2048, 320).astype(np.uint16)
    copied = train[5_003:5_003 + 320]  # not aligned to any stride of train
    assert window_overlap(train, copied) == 1.0
    assert window_overlap(train, fresh) == 0.0
    assert window_overlap(train, np.concatenate([copied, fresh])) == 0.5
    one_off = copied.copy()
    one_off[::32] += 1  # one token changed in every window
    assert window_overlap(train, one_off) == 0.0
    assert window_overlap(train, copied[:40], window=32, stride=4) == 1.0  # windows at 0 and 4 and 8


def test_window_overlap_sees_zero_tokens_and_short_training_text():
    assert window_overlap(np.zeros(40, np.uint16), np.zeros(32, np.uint16)) == 1.0
    assert window_overlap(np.zeros(40, np.uint16), np.r_[np.zeros(31, np.uint16), 1]) == 0.0
    assert window_overlap(np.zeros(10, np.uint16), np.zeros(32, np.uint16)) == 0.0


def test_a_paragraph_seen_before_is_dropped_whatever_its_case_and_spacing():
    docs = list(fresh_paragraphs([TOPIC, "For loops\n\n" + FOX.upper().replace(" ", "  \n") + ".\n\nThe end of it, "
                                  "told in a paragraph long enough to count.",
                                  "Short.\n\nthe quick brown fox jumps over the lazy dog and runs far away"]))
    assert docs == [TOPIC, "For loops\n\nThe end of it, told in a paragraph long enough to count."]


def test_a_paragraph_mostly_made_of_earlier_text_is_dropped_and_one_mostly_new_is_kept():
    """FOX has 10 eight-word shingles: a word added at its end leaves 10 of 11 seen; changing
    its eighth word leaves only 2 of 10 seen."""
    mostly_old = FOX + " again"
    mostly_new = FOX.replace("lazy", "sleepy")
    assert list(fresh_paragraphs([FOX, mostly_old])) == [FOX]
    assert list(fresh_paragraphs([FOX, mostly_new])) == [FOX, mostly_new]


def test_a_document_left_with_only_its_heading_goes_entirely():
    """Like pydoc's topics: the "for" statement topic is also a section of "Compound statements"."""
    compound = "Compound statements\n*******************\n\n" + FOX + "."
    assert list(fresh_paragraphs([compound, TOPIC, "A new paragraph with more than eight words in it."])) == \
        [compound, "A new paragraph with more than eight words in it."]


def test_the_first_copy_is_kept_so_the_order_of_documents_decides():
    a, b = "Alpha: " + FOX, "Beta: " + FOX
    assert list(fresh_paragraphs([a, b])) == [a]
    assert list(fresh_paragraphs([b, a])) == [b]


def test_distinct_keeps_the_first_of_documents_equal_but_for_case_and_spacing():
    assert list(distinct(["One doc.", "two  doc", "ONE\tdoc.", "one doc", "Two doc"])) == \
        ["One doc.", "two  doc", "one doc"]
