"""Text moods to musical parameters: sensible results, fallbacks, bad input."""

import dataclasses
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adaptive_music.mood import text as mood_text
from adaptive_music.mood import vocabulary
from adaptive_music.mood.params import INSTRUMENT_TAGS, MoodParams
from adaptive_music.mood.text import MAX_MOOD_CHARS, NEUTRAL, MoodError, explain_mood, parse_mood


def test_calm_forest_at_dawn_is_slow_calm_positive_with_strings():
    p = parse_mood("calm forest at dawn, soft strings")
    assert 70 <= p.tempo <= 85
    assert p.arousal < 0.3 and p.tension < 0.2
    assert p.valence > 0.2
    assert p.tags == {"strings"}


def test_goblin_attack_is_fast_tense_with_drums():
    p = parse_mood("goblins attack, fast drums, tense")
    assert p.tempo >= 140
    assert p.arousal >= 0.65 and p.tension >= 0.65
    assert p.valence < 0
    assert "drums" in p.tags


def test_boss_battle_is_more_intense_than_calm_exploration():
    boss, calm = parse_mood("intense boss battle"), parse_mood("calm exploration")
    assert boss.tempo > calm.tempo + 40
    for field in ("arousal", "tension", "density"):
        assert getattr(boss, field) > getattr(calm, field) + 0.3, field
    assert boss.valence < calm.valence
    assert "drums" in boss.tags and "drums" not in calm.tags


def test_tense_stealth_is_sparse_dark_and_tense():
    p = parse_mood("tense stealth, low strings, sparse percussion")
    assert p.density < 0.35
    assert p.tension >= 0.7
    assert p.brightness < 0.4 and p.valence < 0
    assert p.tags == {"strings", "drums"}


def test_parsing_is_deterministic_across_cache_clears():
    first = [parse_mood(t) for t in ("epic dragon fight", "rainy night in the city")]
    mood_text._analyse.cache_clear()
    assert [parse_mood(t) for t in ("epic dragon fight", "rainy night in the city")] == first
    assert explain_mood("goblinz attack") == explain_mood("goblinz attack")


def test_misspelt_word_falls_back_to_the_close_vocabulary_word():
    assert parse_mood("goblinz attack") == parse_mood("goblins attack")
    info = explain_mood("goblinz attack")
    assert {"word": "goblinz", "fallback": "goblins"} in info["unknown"]
    assert info["words"][0]["how"] == "spelling"


def test_unknown_word_with_nothing_near_is_neutral_and_reported():
    assert parse_mood("calm blorptastic") == parse_mood("calm")
    assert explain_mood("calm blorptastic")["unknown"] == [{"word": "blorptastic", "fallback": "neutral"}]


@pytest.mark.parametrize(
    "written, base", [("stormy", "storm"), ("goblin", "goblins"), ("enemies", "enemy"), ("calmly", "calm"),
                      ("foggy", "fog"), ("darker", "dark"), ("sneaking", "sneak"), ("happier", "happy")]
)
def test_inflected_words_find_their_base_form(written, base):
    info = explain_mood(written)
    assert info["words"][0]["matched"] == base and info["unknown"] == []


def test_case_accents_and_hyphens_are_folded():
    assert parse_mood("CALM Forest") == parse_mood("calm forest")
    assert parse_mood("café") == parse_mood("cafe")
    assert parse_mood("Sci-Fi city") == parse_mood("scifi city") == parse_mood("sci fi city")


def test_degree_words_scale_the_next_word():
    fast = parse_mood("fast").tempo
    assert parse_mood("very fast").tempo > fast > parse_mood("slightly fast").tempo > NEUTRAL.tempo
    # A comma ends a modifier's reach.
    assert parse_mood("very, fast") == parse_mood("fast")


def test_negation_flips_moods_and_removes_instruments():
    assert parse_mood("not happy").valence < NEUTRAL.valence < parse_mood("happy").valence
    assert "drums" in parse_mood("battle").tags
    assert "drums" not in parse_mood("battle, no drums").tags
    assert "drums" not in parse_mood("tavern without drums").tags
    # A negated instrument changes the instrumentation, not the mood.
    battle, no_drums = parse_mood("battle"), parse_mood("battle, no drums")
    assert dataclasses.replace(no_drums, tags=battle.tags) == battle


def test_named_instruments_replace_the_suggested_ones():
    assert parse_mood("battle, piano").tags == {"piano"}
    assert explain_mood("battle, piano")["tags_from"] == "text"
    assert explain_mood("battle")["tags_from"] == "mood"
    assert parse_mood("calm").tags == frozenset()


@pytest.mark.parametrize(
    "word, tag",
    [("violin", "strings"), ("cello", "strings"), ("horns", "brass"), ("celesta", "bells"),
     ("percussion", "drums"), ("choir", "choir"), ("organ", "organ"), ("flute", "flute"),
     ("guitar", "guitar"), ("synth", "synth"), ("piano", "piano"), ("music box", "bells")],
)
def test_instrument_words_map_to_backend_tags(word, tag):
    assert tag in parse_mood(f"calm, {word}").tags


def test_explicit_bpm_sets_the_tempo():
    assert parse_mood("battle at 90 bpm").tempo == 90
    assert explain_mood("battle at 90 bpm")["bpm"] == 90
    assert parse_mood("calm 500 bpm").tempo == 200  # clamped to the tempo range


def test_filler_words_alone_give_the_neutral_mood():
    assert parse_mood("background music") == NEUTRAL


def test_explain_is_json_and_agrees_with_parse():
    info = explain_mood("very tense stealth in a dark cave, no drums, blorp")
    assert json.loads(json.dumps(info)) == info
    assert info["params"] == parse_mood(info["text"]).as_dict()
    assert [w["word"] for w in info["words"]] == ["tense", "stealth", "dark", "cave", "drums"]
    assert info["words"][0]["modifiers"] == ["very"]
    assert "in" in info["ignored"] and "a" in info["ignored"]


def test_vocabulary_is_broad_and_valid():
    assert len(vocabulary.MOOD_WORDS) >= 150
    for word in ["calm", "peaceful", "serene", "dawn", "forest", "cave", "dungeon", "tense", "stealth",
                 "ambush", "goblins", "battle", "boss", "epic", "heroic", "triumphant", "sad", "melancholic",
                 "mysterious", "eerie", "horror", "spooky", "chase", "fast", "slow", "dark", "bright",
                 "happy", "playful", "victory", "village", "tavern", "desert", "ocean", "space", "sci-fi",
                 "cyber", "night", "rain", "snow", "exploration", "puzzle", "menu", "shop", "romance"]:
        assert word in vocabulary.MOOD_WORDS, word
    for word, entry in vocabulary.INSTRUMENT_WORDS.items():
        assert entry.instrument and entry.tags and entry.tags <= INSTRUMENT_TAGS, word
    assert {t for e in vocabulary.INSTRUMENT_WORDS.values() for t in e.tags} == INSTRUMENT_TAGS
    with pytest.raises(ValueError):
        vocabulary.Entry({"tempo": 400.0})


@pytest.mark.parametrize(
    "bad",
    ["", "   \n", "1234 !!", "#$%^&*", "\x00calm", "calm \x1b[31m forest", "x" * (MAX_MOOD_CHARS + 1),
     "xyzzy qwrtp", "the of and", "音楽"],
)
def test_empty_or_garbled_moods_raise_mood_error(bad):
    with pytest.raises(MoodError):
        parse_mood(bad)
    with pytest.raises(ValueError):  # MoodError is a ValueError
        explain_mood(bad)


def test_non_string_mood_is_a_type_error():
    with pytest.raises(TypeError):
        parse_mood(["calm"])


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_text_parses_or_raises_mood_error(text):
    try:
        p = parse_mood(text)
    except MoodError:
        return
    assert isinstance(p, MoodParams)
    assert p.tags <= INSTRUMENT_TAGS
