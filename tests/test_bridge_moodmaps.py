"""TOML mood maps: the shipped example, resolution, and load-time errors."""

import pytest

from adaptive_music.mood.maps import EXAMPLE, MoodMap, MoodMapError, load_mood_map, parse_mood_map


def test_shipped_example_loads_and_resolves():
    moods = load_mood_map(EXAMPLE)
    assert {"enemy_spotted", "boss_phase_2", "player_hit", "danger_level", "item_found"} <= set(moods.events)
    boss = moods.resolve("boss_phase_2")
    assert boss.mood == moods.moods["boss_enraged"] and boss.quantize == "bar" and boss.ramp == 4.0
    assert boss.intensity == 1.0 and boss.stinger is None
    spotted = moods.resolve("enemy_spotted")
    assert spotted.stinger == moods.stingers["danger"] and spotted.quantize == "beat"
    # Events that don't set a transition take [defaults].
    village = moods.resolve("enter_village")
    assert (village.quantize, village.ramp) == ("bar", 2.0)
    assert moods.resolve("player_hit").as_dict() == {"intensity_delta": 0.1}
    assert moods.resolve("danger_level", {"danger": 0.25}).intensity == 0.25


def test_intensity_param_is_checked():
    moods = load_mood_map(EXAMPLE)
    for params in (None, {}, {"danger": 2}, {"danger": float("nan")}, {"danger": "high"}, {"danger": True}):
        with pytest.raises(ValueError, match="danger"):
            moods.resolve("danger_level", params)
    with pytest.raises(KeyError):
        moods.resolve("no_such_event")


def test_names_resolve_to_texts_and_texts_pass_through():
    moods = parse_mood_map('[moods]\ncalm = "soft piano"\n[stingers]\nhit = "brass stab"\n')
    assert moods.mood_text("calm") == "soft piano" and moods.mood_text("dark drones") == "dark drones"
    assert moods.stinger_text("hit") == "brass stab" and moods.stinger_text("bells") == "bells"
    assert MoodMap().events == {}


def test_inline_event_tables_work():
    moods = parse_mood_map('[events]\nboss_phase_2 = {mood = "epic", quantize = "bar", ramp = 4}\n')
    assert moods.resolve("boss_phase_2").as_dict() == {"mood": "epic", "quantize": "bar", "ramp": 4.0}


@pytest.mark.parametrize(
    "text, line, where, message",
    [
        ('[events.a]\nmood = "x"\nquantize = "later"\n', 3, "[events.a] quantize", "now, beat, bar"),
        ('[events]\nboss = {mood = "x", ramp = -1}\n', 2, "[events.boss] ramp", "seconds"),
        ('[events.a]\nmood = "x"\n\n[events.b]\nintensity = 2\n', 5, "[events.b] intensity", "[0, 1]"),
        ('[events.a]\nmood = "x"\nrmap = 3\n', 3, "[events.a] rmap", "unknown key"),
        ('[events.a]\n', 1, "[events.a]", "does nothing"),
        ('[events.a]\nintensity = 0.5\nquantize = "bar"\n', 3, "[events.a] quantize", "mood is not set"),
        ('[events.a]\nintensity = 0.5\nintensity_delta = 0.1\n', 2, "[events.a] intensity", "only one"),
        ('[events.a]\nmood = ""\n', 2, "[events.a] mood", "non-empty string"),
        ('[moods]\ncalm = 3\n', 2, "[moods] calm", "non-empty string"),
        ('[defaults]\nquantize = "bar"\nfade = 1\n', 3, "[defaults] fade", "unknown key"),
        ('volume = 3\n', 1, "volume", "unknown table"),
        ('[events]\na = 3\n', 2, "[events] a", "must be a table"),
        ('[events.a]\nmood = "x"\nramp = 1\nramp = 2\n', 4, "", "not valid TOML"),
    ],
)
def test_errors_name_line_table_and_key(text, line, where, message):
    with pytest.raises(MoodMapError) as info:
        parse_mood_map(text, "game.toml")
    error = info.value
    assert error.line == line and error.where == where
    assert str(error).startswith(f"game.toml:{line}: ") and message in str(error)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(MoodMapError, match="cannot read the mood map"):
        load_mood_map(tmp_path / "nope.toml")


def test_melody_is_a_file_next_to_the_map(tmp_path):
    (tmp_path / "themes").mkdir()
    (tmp_path / "themes" / "main.ogg").write_bytes(b"OggS")  # existence is checked here, the audio at load
    path = tmp_path / "moods.toml"
    path.write_text('melody = "themes/main.ogg"\n[moods]\nboss = "epic battle"\n')
    assert load_mood_map(path).melody == tmp_path / "themes" / "main.ogg"
    assert load_mood_map(EXAMPLE).melody is None
    path.write_text('melody = "themes/missing.ogg"\n[moods]\nboss = "epic battle"\n')
    with pytest.raises(MoodMapError, match=r"moods\.toml:1: melody: no such file: .*missing\.ogg"):
        load_mood_map(path)
    with pytest.raises(MoodMapError, match="melody: must be a non-empty string"):
        parse_mood_map("melody = 3\n")
