"""The composer: decides, one sixteenth-note step at a time, which notes start.

Decisions are made just in time from the mood in force at that step, so a
mood change is heard at the next step and the output does not depend on how
frames are split into calls. Everything that carries the music forward
(key, meter, chord, phrase position, the motif, the pad voicing) lives in
a plain ``dict`` that the backend stores in the generator state.

Randomness is a hash of (seed, bar, step, purpose): the same seed and mood
timeline always give the same music.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from ...mood.params import MoodParams
from . import theory
from .arrangement import Ensemble, drum, ensemble
from .instruments import INSTRUMENT, INSTRUMENTS
from .tokens import PAD_TRACKS, TRACK, TRACKS, Beat, Note

_MASK = (1 << 64) - 1


def rand(*keys: int | str) -> float:
    """A deterministic uniform number in [0, 1) from integer/string keys (splitmix64)."""
    x = 0x9E3779B97F4A7C15
    for k in keys:
        if isinstance(k, str):
            k = sum(ord(c) * 131 ** i for i, c in enumerate(k[:16]))
        x = (x ^ (k & _MASK)) & _MASK
        x = (x + 0x9E3779B97F4A7C15) & _MASK
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
        x ^= x >> 31
    return (x >> 11) / float(1 << 53)


_COMFORTABLE_ROOTS = (0, 2, 7, 9, 4, 5, 10, 3)

# Motif rhythms over two bars of 4/4 (sixteenth steps): (start, length).
_MOTIF_RHYTHMS = (
    ((0, 4), (4, 2), (6, 2), (8, 8), (16, 4), (20, 4), (24, 8)),
    ((0, 6), (6, 2), (8, 4), (12, 4), (16, 12)),
    ((0, 2), (2, 2), (4, 4), (8, 2), (10, 2), (12, 4), (16, 6), (22, 2), (24, 8)),
    ((0, 8), (8, 4), (12, 4), (16, 8), (24, 8)),
    ((2, 2), (4, 2), (6, 2), (8, 6), (14, 2), (16, 8), (26, 6)),
)


def initial_data(seed: int) -> dict[str, Any]:
    return {
        "next_sample": 0.0, "step": 0, "bar": -1, "beats_per_bar": 4,
        "root": _COMFORTABLE_ROOTS[int(rand(seed, "root") * len(_COMFORTABLE_ROOTS))],
        "scale": "major", "prog": [0, 4, 5, 3], "phrase_bar": 0, "section": 0,
        "section_mood": None, "voicing": [52, 57, 60, 64], "motif": [], "lead_prev": 72,
        "arp_up": True,
    }


class Mix:
    """The mood in force at one step: blended parameters, intensity and the leading mood."""

    __slots__ = ("p", "intensity", "text", "energy", "ensemble", "instruments")

    def __init__(self, parts: list[tuple[Any, float]]):
        self.p = MoodParams.mix([(c.params, w) for c, w in parts])
        self.intensity = sum(c.intensity * w for c, w in parts) / sum(w for _, w in parts)
        self.text = max(parts, key=lambda cw: cw[1])[0].text
        self.energy = 0.55 * self.p.arousal + 0.45 * self.intensity
        self.ensemble = ensemble(self.text, self.p)
        self.instruments = choose_instruments(self.ensemble)


def _velocity(level: float) -> int:
    return int(min(15, max(1, round(level))))


def _brightness(mix: Mix, shift: float = 0.0) -> int:
    return int(min(7, max(0, round((mix.p.brightness + shift) * 7))))


# The melody's centre pitch per lead instrument: where each sings best and stays clear of the chords.
_LEAD_REGISTER = {"brass": 62, "horns": 62, "cello": 55, "choir": 67, "organ": 67}
# The lowest note of the bass players whose range stops above a double bass's E1 (28).
_LOWEST = {"cello": 36, "guitar": 40}
_ROLE_OF_TRACK = {TRACK[name]: ("pad" if name.startswith("pad") else name) for name in TRACKS if name != "control"}
for _name in ("kick", "snare", "hat", "perc"):
    _ROLE_OF_TRACK[TRACK[_name]] = "drums"


def choose_instruments(ens: Ensemble) -> dict[str, int]:
    """Instrument index per pitched role (silent roles keep a placeholder: their notes are dropped)."""
    return {role: INSTRUMENT[ens.voices.get(role, "piano")] for role in ("pad", "bass", "arp", "lead", "bells")}


def _ensemble_filter(ens: Ensemble, emit: Callable[[int, int, Any], None]) -> Callable[[int, int, Any], None]:
    """``emit`` behind the ensemble: notes of silent roles dropped, each role's velocity offset applied."""
    def play(sample: int, track: int, event: Any) -> None:
        if isinstance(event, Note):
            role = _ROLE_OF_TRACK[track]
            if role not in ens.voices:
                return
            step = ens.velocity.get(role, 0)
            if step:
                event = dataclasses.replace(event, velocity=_velocity(event.velocity + step))
        emit(sample, track, event)
    return play


class Composer:
    """Turns a mood timeline into note events, step by step."""

    def __init__(self, sample_rate: int, seed: int):
        self.sr = sample_rate
        self.seed = seed

    def step_samples(self, bpm: float) -> float:
        return 60.0 / bpm / 4.0 * self.sr

    def compose(self, data: dict[str, Any], mix_at: Callable[[float], Mix], end_sample: int,
                emit: Callable[[int, int, Any], None]) -> dict[str, Any]:
        """Compose every step that starts before ``end_sample``; return the new data.

        ``mix_at(sample)`` gives the mood in force at a sample; ``emit(sample,
        track, event)`` receives each Note or Beat.
        """
        d = dict(data)
        while d["next_sample"] < end_sample:
            pos = int(d["next_sample"])
            mix = mix_at(d["next_sample"])
            if d["step"] == 0:
                self._start_bar(d, mix)
            self._step(d, mix, pos, _ensemble_filter(mix.ensemble, emit))
            d["next_sample"] += self.step_samples(mix.p.tempo)
            d["step"] += 1
            if d["step"] >= 4 * d["beats_per_bar"]:
                d["step"] = 0
        return d

    # -- bar level ---------------------------------------------------------

    def _start_bar(self, d: dict, mix: Mix) -> None:
        d["bar"] += 1
        p = mix.p
        if mix.text != d["section_mood"]:
            d["section"] += 1
            d["section_mood"] = mix.text
            scale = theory.choose_scale(p.valence, p.tension, p.arousal, p.brightness)
            if d["section"] > 1 and rand(self.seed, d["section"], "keymove") < 0.35:
                d["root"] = (d["root"] + (7 if rand(self.seed, d["section"], "dir") < 0.5 else 5)) % 12
            d["scale"] = scale
            progs = theory.PROGRESSIONS[scale]
            d["prog"] = list(progs[int(rand(self.seed, d["section"], "prog") * len(progs))])
            d["phrase_bar"] = 0
            waltz = p.arousal < 0.3 and p.valence > 0.2 and p.tension < 0.35
            d["beats_per_bar"] = 3 if waltz else 4
            d["motif"] = self._new_motif(d, mix)
            d["arp_up"] = rand(self.seed, d["section"], "arp") < 0.6
        else:
            d["phrase_bar"] = (d["phrase_bar"] + 1) % 8
            if d["phrase_bar"] == 0 and rand(self.seed, d["bar"], "reprog") < 0.5:
                progs = theory.PROGRESSIONS[d["scale"]]
                d["prog"] = list(progs[int(rand(self.seed, d["bar"], "prog") * len(progs))])
        degree = self.chord_degree(d)
        pcs = theory.chord_pitch_classes(d["root"], d["scale"], degree, seventh=p.tension > 0.5)
        low = 45 if p.brightness < 0.35 else 50
        if mix.energy > 0.72:
            low += 7  # driving chords sit higher, where they cut through the drums
        d["voicing"] = theory.voice_lead(list(d["voicing"]), pcs, low, low + 26)

    def chord_degree(self, d: dict) -> int:
        pb = d["phrase_bar"]
        degree = d["prog"][pb % 4]
        if pb == 7 and d["scale"] in ("major", "mixolydian", "harmonic_minor", "minor"):
            degree = 4  # half cadence into the next phrase
        return degree

    def _new_motif(self, d: dict, mix: Mix) -> list[list[int]]:
        idx = int(rand(self.seed, d["section"], "rhythm") * len(_MOTIF_RHYTHMS))
        rhythm = _MOTIF_RHYTHMS[idx]
        steps_per_bar = 4 * d["beats_per_bar"]
        degree, motif = 0, []
        for i, (start, length) in enumerate(rhythm):
            start = start * steps_per_bar // 16
            length = max(1, length * steps_per_bar // 16)
            r = rand(self.seed, d["section"], "motif", i)
            leap = mix.p.arousal > 0.6 and r > 0.8
            degree += (2 if r < 0.4 else -1 if r < 0.65 else 1 if r < 0.8 else 0) * (2 if leap else 1)
            degree = max(-3, min(7, degree))
            motif.append([start, length, degree if i else 0])
        motif[-1][2] = 0 if rand(self.seed, d["section"], "end") < 0.5 else 2
        return motif

    # -- step level ---------------------------------------------------------

    def _step(self, d: dict, mix: Mix, pos: int, emit: Callable[[int, int, Any], None]) -> None:
        step, bpb = d["step"], d["beats_per_bar"]
        steps_per_bar = 4 * bpb
        p, e, inten = mix.p, mix.energy, mix.intensity
        step_len = self.step_samples(p.tempo)
        bar_len = int(step_len * steps_per_bar)
        ins = mix.instruments
        key = (self.seed, d["bar"], step)
        degree = self.chord_degree(d)
        root, scale = d["root"], d["scale"]
        # Instruments played harder sound brighter.
        bright = _brightness(mix, 0.5 * (e - 0.5))

        if step % 4 == 0:
            emit(pos, TRACK["control"], Beat(step // 4, bpb, d["bar"], root, scale, p.tempo, 0))

        # Pads: held chords when calm, driving repeated chords when energetic.
        if e > 0.72:
            if step % 2 == 0:
                for track, pitch in zip(PAD_TRACKS, d["voicing"]):
                    vel = _velocity(5 + 7 * e + (2 if step % 8 == 0 else 0))
                    emit(pos, track, Note(pitch, vel, int(step_len * 1.8), 0, ins["pad"], bright))
        elif step == 0 or (e > 0.5 and step == steps_per_bar // 2):
            length = bar_len if step == 0 and e <= 0.5 else bar_len // 2
            for track, pitch in zip(PAD_TRACKS, d["voicing"]):
                emit(pos, track, Note(pitch, _velocity(6 + 6 * inten), int(length * 0.98), 0, ins["pad"], bright))

        # Bass
        # The bass line in the bottom octave (E1 to D2, up to G2 when driving), where a double bass
        # or a bass guitar plays it in produced music: the low end is the bass's, the chords sit above.
        bass_root = theory.nearest_with_pc(31 if p.brightness < 0.3 else 33 if e < 0.75 else 38,
                                           theory.scale_pitch(root, scale, degree, 0) % 12)
        floor = _LOWEST.get(INSTRUMENTS[ins["bass"]].name, 28)
        bass_root += 12 * -(-max(0, floor - bass_root) // 12)  # an octave up where the instrument ends
        if inten >= 0.15 or p.arousal > 0.5:
            vel = _velocity(5 + 9 * e)
            if e < 0.35:
                if step == 0:
                    emit(pos, TRACK["bass"], Note(bass_root, vel, int(bar_len * 0.95), 0, ins["bass"], bright))
            elif e < 0.6:
                if step % 8 == 0:
                    fifth = step != 0 and rand(*key, "b5") < 0.4
                    pitch = bass_root + (7 if fifth else 0)
                    emit(pos, TRACK["bass"], Note(pitch, vel, int(step_len * 7.5), 0, ins["bass"], bright))
            elif e < 0.8:
                if step % 2 == 0:
                    pitch = bass_root + (12 if step % 8 == 6 else 0)
                    emit(pos, TRACK["bass"], Note(pitch, vel - (0 if step % 4 == 0 else 2), int(step_len * 1.7), 0, ins["bass"], bright))
            elif step % 4 in (0, 2, 3):
                pitch = bass_root + (12 if step % 16 == 14 else 0)
                emit(pos, TRACK["bass"], Note(pitch, vel - (0 if step % 4 == 0 else 3), int(step_len * 0.9), 0, ins["bass"], bright))

        # Arpeggio
        drive = 0.6 * p.density + 0.6 * inten
        if drive > 0.4:
            every = 1 if drive > 0.95 else 2 if drive > 0.62 else 4
            if step % every == 0:
                tones = sorted(d["voicing"][:3])
                seq = [t + 12 * o for o in (0, 1) for t in tones]
                if not d["arp_up"]:
                    seq = seq + seq[-2:0:-1]
                i = (d["bar"] * steps_per_bar + step) // every
                pitch = seq[i % len(seq)] + (12 if p.brightness > 0.6 else 0)
                vel = _velocity(5 + 6 * inten + (2 if step % 4 == 0 else 0))
                emit(pos, TRACK["arp"], Note(pitch, vel, int(step_len * every * 0.9), 0, ins["arp"], min(7, bright + 1)))

        # Lead melody: the motif, its answer and its return, over the 8-bar phrase.
        if inten >= 0.42 and d["motif"]:
            pb = d["phrase_bar"]
            if pb != 7:
                pair_step = (pb % 2) * steps_per_bar + step
                shift = {0: 0, 1: 0, 2: 2, 3: 2, 4: 0, 5: 0, 6: -1}[pb]
                for start, length, deg in d["motif"]:
                    if start == pair_step:
                        if pb in (3, 6) and rand(*key, "vary") < 0.5:
                            deg += 1 if rand(*key, "dir") < 0.5 else -1
                        base = _LEAD_REGISTER.get(INSTRUMENTS[ins["lead"]].name, 72)
                        target = theory.scale_pitch(root, scale, degree + deg + shift, base - 12)
                        pitch = theory.nearest_with_pc(d["lead_prev"], target % 12)
                        # Out of range: the same note an octave in, not the boundary note repeated.
                        pitch += 12 * ((pitch < base - 7) - (pitch > base + 12))
                        d["lead_prev"] = pitch
                        vel = _velocity(7 + 6 * inten + (1 if start == 0 else 0))
                        emit(pos, TRACK["lead"], Note(pitch, vel, int(step_len * length * 0.95), 0, ins["lead"], bright))

        # Bells: sparse sparkle in bright, gentle moods.
        if p.brightness > 0.55 and e < 0.55 and step % 4 == 2 and rand(*key, "bell") < 0.18 + 0.3 * p.density:
            pitch = theory.scale_pitch(root, scale, degree + int(rand(*key, "bd") * 5) * 2 % 7, 84)
            emit(pos, TRACK["bells"], Note(pitch, _velocity(4 + 4 * inten), int(step_len * 4), 0, ins["bells"], 5))

        self._drums(d, mix, pos, step, steps_per_bar, key, emit)

    def _drums(self, d: dict, mix: Mix, pos: int, step: int, steps_per_bar: int, key: tuple,
               emit: Callable[[int, int, Any], None]) -> None:
        p, e = mix.p, mix.energy
        ens = mix.ensemble
        drumming = e >= 0.3 or "drums" in p.tags or ens.four_on_the_floor
        if not drumming:
            return
        sparse = p.density < 0.3 and not ens.four_on_the_floor
        acc = 2 if step % 4 == 0 else 0
        base = 5 + 9 * e

        def hit(track: str, instrument: str, vel: float, pitch: int = 60) -> None:
            sound = drum(ens, instrument)
            if sound is not None:
                emit(pos, TRACK[track], Note(pitch, _velocity(vel), 1, 0, INSTRUMENT[sound], 4))

        backbeat = step % 8 == 4
        if ens.four_on_the_floor:  # a kick on every beat, the off-beats open, a clap on two and four
            if step % 4 == 0:
                hit("kick", "kick", base + acc)
            if backbeat:
                hit("snare", "snare", base)
            hit("hat", "open_hat" if step % 4 == 2 else "hat", base - 4 + (1 if step % 2 == 0 else -1))
            if d["phrase_bar"] == 0 and step == 0:
                hit("perc", "crash", base)
            return
        epic = p.arousal > 0.75 and p.valence < 0.3
        if e < 0.45 or sparse:
            if step == 0:
                hit("kick", "taiko" if epic else "kick", base)
            if step % 4 == 2 and rand(*key, "shk") < (0.35 if sparse else 0.8):
                hit("hat", "shaker", base - 3)
            if step == steps_per_bar - 4 and rand(*key, "rim") < 0.5:
                hit("snare", "rim", base - 2)
            return
        if e < 0.65:
            if step % 8 == 0:
                hit("kick", "kick", base + acc)
            if backbeat:
                hit("snare", "snare", base)
            if step % 2 == 0:
                hit("hat", "hat", base - 3 + acc / 2)
            return
        pattern = (0, 3, 8, 10) if e < 0.85 else (0, 3, 6, 8, 11, 14)
        if step % 16 in pattern:
            hit("kick", "taiko" if epic and step % 8 == 0 else "kick", base + acc)
        if backbeat:
            hit("snare", "snare", base + 1)
        elif step % 16 == 14 and rand(*key, "ghost") < 0.5:
            hit("snare", "snare", base - 5)
        ride = e > 0.8 and step % 4 == 0  # a cymbal on every beat at full tilt
        hit("hat", "open_hat" if ride or step % 16 == 14 else "hat", base - 4 + acc / 2 + (1 if step % 2 == 0 else -1))
        last_bar = d["phrase_bar"] == 7
        if last_bar and step >= steps_per_bar // 2 and step % 2 == 0:
            toms = (50, 48, 47, 45, 43, 41)  # General MIDI's toms, high to low
            hit("perc", "tom", base, toms[(step - steps_per_bar // 2) // 2 % len(toms)])
        if d["phrase_bar"] == 0 and step == 0:
            hit("perc", "crash", base)
