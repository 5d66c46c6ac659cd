"""WAV files: round trips, other tools' files, streaming, atomicity, bad files."""

import os
import stat
import struct
import wave

import numpy as np
import pytest

from adaptive_music.audio import SUBTYPES, WavError, WavWriter, read_wav, write_wav

RNG = np.random.default_rng(99)
LSB = {"float32": 0.0, "pcm16": 2.0**-15, "pcm24": 2.0**-23, "pcm32": 2.0**-31}


def noise(frames, channels, amp=0.9):
    return (RNG.uniform(-amp, amp, (frames, channels))).astype(np.float32)


def leftovers(folder):
    return sorted(p for p in os.listdir(folder) if p.endswith(".tmp"))


@pytest.mark.parametrize("subtype", SUBTYPES)
@pytest.mark.parametrize("channels", [1, 2, 3])
def test_round_trip(tmp_path, subtype, channels):
    x = noise(1001, channels)  # odd length: pcm24 mono needs a pad byte
    path = tmp_path / "a.wav"
    write_wav(path, x, 44100, subtype=subtype)
    y, sr = read_wav(path)
    assert sr == 44100 and y.dtype == np.float32 and y.shape == (1001, channels)
    np.testing.assert_allclose(y, x, atol=LSB[subtype] / 2 + 1e-9, rtol=0)
    assert os.path.getsize(path) % 2 == 0
    assert leftovers(tmp_path) == []


def test_mono_1d_input_and_full_scale_clipping(tmp_path):
    x = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 1.7, -3.0], dtype=np.float64)
    write_wav(tmp_path / "m.wav", x, 8000, subtype="pcm16")
    y, _ = read_wav(tmp_path / "m.wav")
    assert y.shape == (7, 1)
    np.testing.assert_array_equal(y[:, 0], [0.0, 0.5, -0.5, 32767 / 32768, -1.0, 32767 / 32768, -1.0])
    write_wav(tmp_path / "f.wav", x, 8000)  # float keeps values beyond full scale
    np.testing.assert_array_equal(read_wav(tmp_path / "f.wav")[0][:, 0], x.astype(np.float32))


def test_reads_a_file_written_by_the_stdlib_wave_module(tmp_path):
    ints = (RNG.uniform(-1, 1, (500, 2)) * 32000).astype("<i2")
    with wave.open(str(tmp_path / "w.wav"), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(22050)
        w.writeframes(ints.tobytes())
    y, sr = read_wav(tmp_path / "w.wav")
    assert sr == 22050
    np.testing.assert_array_equal(y, ints / 32768.0)


def test_stdlib_wave_module_reads_our_pcm16(tmp_path):
    x = noise(300, 2)
    write_wav(tmp_path / "o.wav", x, 32000, subtype="pcm16")
    with wave.open(str(tmp_path / "o.wav"), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (2, 2, 32000, 300)
        ints = np.frombuffer(w.readframes(300), "<i2").reshape(-1, 2)
    np.testing.assert_array_equal(ints, np.clip(np.round(x.astype(np.float64) * 32768), -32768, 32767))


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
@pytest.mark.parametrize("container", ["WAV", "WAVEX"])
def test_libsndfile_files_read_back_equal(tmp_path, subtype, container):
    sf = pytest.importorskip("soundfile")  # libsndfile, an independent implementation
    x = RNG.uniform(-1, 1, (257, 2))
    sf.write(tmp_path / "s.wav", x, 16000, subtype=subtype, format=container)
    expected, _ = sf.read(tmp_path / "s.wav", dtype="float32", always_2d=True)
    y, sr = read_wav(tmp_path / "s.wav")
    assert sr == 16000
    np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize("subtype", SUBTYPES)
def test_libsndfile_reads_our_files(tmp_path, subtype):
    sf = pytest.importorskip("soundfile")
    x = noise(257, 3)  # three channels: WAVE_FORMAT_EXTENSIBLE
    write_wav(tmp_path / "o.wav", x, 48000, subtype=subtype)
    info = sf.info(tmp_path / "o.wav")
    assert (info.samplerate, info.channels, info.frames) == (48000, 3, 257)
    np.testing.assert_array_equal(sf.read(tmp_path / "o.wav", dtype="float32")[0], read_wav(tmp_path / "o.wav")[0])


def test_unknown_chunks_are_skipped(tmp_path):
    x = noise(64, 2)
    write_wav(tmp_path / "a.wav", x, 48000, subtype="pcm16")
    blob = (tmp_path / "a.wav").read_bytes()
    # Put an odd-sized LIST chunk (with its pad byte) between fmt and data.
    at = blob.index(b"data")
    extra = b"LIST" + struct.pack("<I", 5) + b"INFOx\x00"
    patched = blob[:4] + struct.pack("<I", len(blob) - 8 + len(extra)) + blob[8:at] + extra + blob[at:]
    (tmp_path / "b.wav").write_bytes(patched)
    np.testing.assert_array_equal(read_wav(tmp_path / "b.wav")[0], read_wav(tmp_path / "a.wav")[0])


def test_streaming_writer_equals_one_shot_write(tmp_path):
    blocks = [noise(n, 2) for n in (1024, 1, 777, 4096)]
    path = tmp_path / "live.wav"
    with WavWriter(path, 48000, channels=2, subtype="pcm24") as out:
        for block in blocks:
            out.write(block)
            assert not path.exists()  # nothing at the destination until close
        assert out.frames == sum(len(b) for b in blocks)
    assert out.closed
    write_wav(tmp_path / "once.wav", np.concatenate(blocks), 48000, subtype="pcm24")
    assert path.read_bytes() == (tmp_path / "once.wav").read_bytes()
    out.close()  # idempotent
    with pytest.raises(ValueError):
        out.write(blocks[0])


def test_created_file_mode_follows_the_umask(tmp_path):
    umask = os.umask(0o022)
    try:
        write_wav(tmp_path / "m.wav", noise(10, 1), 8000)
    finally:
        os.umask(umask)
    assert stat.S_IMODE(os.stat(tmp_path / "m.wav").st_mode) == 0o644


def test_failed_stream_leaves_the_old_file_untouched(tmp_path):
    path = tmp_path / "keep.wav"
    write_wav(path, noise(100, 2), 48000)
    before = path.read_bytes()
    with pytest.raises(RuntimeError):
        with WavWriter(path, 48000, 2) as out:
            out.write(noise(50, 2))
            raise RuntimeError("game crashed")
    assert path.read_bytes() == before and leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "audio, kwargs, error",
    [
        (np.array([0.0, np.nan]), {}, ValueError),
        (np.zeros((10, 2), np.int16), {}, TypeError),
        (np.zeros((10, 2, 2)), {}, ValueError),
        (np.zeros((10, 2)), {"subtype": "pcm8"}, ValueError),
        (np.zeros((10, 2)), {"sample_rate": 0}, ValueError),
        (np.zeros((10, 2)), {"sample_rate": 44100.5}, ValueError),
    ],
)
def test_bad_writes_raise_and_leave_nothing(tmp_path, audio, kwargs, error):
    path = tmp_path / "bad.wav"
    kwargs = {"sample_rate": 48000, **kwargs}
    with pytest.raises(error):
        write_wav(path, audio, kwargs.pop("sample_rate"), **kwargs)
    assert os.listdir(tmp_path) == []


def test_unwritable_destinations_raise_os_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        write_wav(tmp_path / "missing" / "x.wav", noise(10, 2), 48000)
    (tmp_path / "dir.wav").mkdir()
    with pytest.raises(OSError):
        write_wav(tmp_path / "dir.wav", noise(10, 2), 48000)
    assert sorted(os.listdir(tmp_path)) == ["dir.wav"]


def test_writer_rejects_blocks_of_the_wrong_shape(tmp_path):
    with WavWriter(tmp_path / "s.wav", 48000, channels=2) as out:
        with pytest.raises(ValueError):
            out.write(np.zeros(10))
        with pytest.raises(ValueError):
            out.write(np.zeros((10, 3)))
        out.write(np.zeros((10, 2)))
    assert read_wav(tmp_path / "s.wav")[0].shape == (10, 2)


def test_non_wav_and_truncated_files_raise_wav_error(tmp_path):
    (tmp_path / "text.wav").write_text("this is not audio, just text")
    (tmp_path / "empty.wav").write_bytes(b"")
    write_wav(tmp_path / "good.wav", noise(1000, 2), 48000, subtype="pcm16")
    blob = (tmp_path / "good.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(blob[: len(blob) // 2])
    (tmp_path / "header_only.wav").write_bytes(blob[:20])
    (tmp_path / "ragged.wav").write_bytes(blob[:40] + struct.pack("<I", 4001) + blob[44:] + b"\x00\x00")
    for name, message in [("text", "not a WAV"), ("empty", "not a WAV"), ("cut", "truncated"),
                          ("header_only", "truncated"), ("ragged", "whole number of frames")]:
        with pytest.raises(WavError, match=message):
            read_wav(tmp_path / f"{name}.wav")


def test_unsupported_encoding_is_named(tmp_path):
    fmt = struct.pack("<HHIIHH", 6, 1, 8000, 8000, 1, 8)  # 8-bit A-law
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", 2) + b"\x00\x00"
    (tmp_path / "alaw.wav").write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    with pytest.raises(WavError, match="unsupported WAV encoding: format tag 0x0006"):
        read_wav(tmp_path / "alaw.wav")
