// Typed views of the replies in PROTOCOL.md §3. Each keeps the whole map in Fields, so
// fields added by later minor versions stay readable.
using System;
using System.Collections.Generic;

namespace AdaptiveMusicBridge
{
    /// <summary>A failed request: the server's error code (PROTOCOL.md §5) or one of the client's own.</summary>
    public class BridgeException : Exception
    {
        /// <summary>Client-side codes; every other code is the server's.</summary>
        public const string Unavailable = "unavailable", Timeout = "timeout", ConnectionLost = "connection_lost",
                            VersionMismatch = "version_mismatch", Closed = "closed";

        public string Code { get; private set; }

        public BridgeException(string code, string message) : base(code + ": " + message) { Code = code; }
    }

    /// <summary>A successful reply: its fields, with typed accessors.</summary>
    public class Reply
    {
        public IDictionary<string, object> Fields { get; private set; }

        public Reply(IDictionary<string, object> fields) { Fields = fields; }

        /// <summary>The request id echoed, or null for a frame the server could not read.</summary>
        public ulong? Id { get { return Field.ULong(Fields, "id"); } }
    }

    /// <summary>The <c>hello</c> reply: who the server is and what it accepts.</summary>
    public sealed class HelloReply : Reply
    {
        public HelloReply(IDictionary<string, object> fields) : base(fields) { }

        public int Protocol { get { return (int)(Field.Long(Fields, "protocol") ?? 0); } }
        /// <summary>The minor revision (1 adds engine output); 0 when the server does not say.</summary>
        public int ProtocolMinor { get { return (int)(Field.Long(Fields, "protocol_minor") ?? 0); } }
        public string Version { get { return Field.String(Fields, "version"); } }
        public string Backend { get { return Field.String(Fields, "backend"); } }
        /// <summary>"device", "engine" or "file"; null from a 1.0 server.</summary>
        public string Output { get { return Field.String(Fields, "output"); } }
        public int SampleRate { get { return (int)(Field.Long(Fields, "sample_rate") ?? 0); } }
        public int Channels { get { return (int)(Field.Long(Fields, "channels") ?? 0); } }
        public string[] Types { get { return Field.Strings(Fields, "types"); } }
        public string[] Events { get { return Field.Strings(Fields, "events"); } }
        public string[] Moods { get { return Field.Strings(Fields, "moods"); } }
        public string[] Stingers { get { return Field.Strings(Fields, "stingers"); } }
        public string[] Params { get { return Field.Strings(Fields, "params"); } }
        public IDictionary<string, object> Limits { get { return Field.Map(Fields, "limits"); } }
    }

    /// <summary>The reply to <c>set_mood</c> or <c>event</c>.</summary>
    public sealed class MoodReply : Reply
    {
        public MoodReply(IDictionary<string, object> fields) : base(fields) { }

        /// <summary>True: the change waits for the end of the coalescing interval (PROTOCOL.md §3).</summary>
        public bool Queued { get { return Field.Bool(Fields, "queued") ?? false; } }
        /// <summary>What an <c>event</c> did (keys mood, quantize, ramp, intensity, ...); null for set_mood.</summary>
        public IDictionary<string, object> Action { get { return Field.Map(Fields, "action"); } }
    }

    /// <summary>The soundtrack's status, from a <c>status</c> reply or event.</summary>
    public sealed class StatusReply : Reply
    {
        public StatusReply(IDictionary<string, object> fields) : base(fields) { }

        public string Mood { get { return Field.String(Fields, "mood"); } }
        public double Intensity { get { return Field.Double(Fields, "intensity") ?? 0; } }
        public double Playhead { get { return Field.Double(Fields, "playhead") ?? 0; } }
        public double Buffered { get { return Field.Double(Fields, "buffered") ?? 0; } }
        public long Underruns { get { return Field.Long(Fields, "underruns") ?? 0; } }
        public double Bpm { get { return Field.Double(Fields, "bpm") ?? 0; } }
        public int? Bar { get { return (int?)Field.Long(Fields, "bar"); } }
        public int? Beat { get { return (int?)Field.Long(Fields, "beat"); } }
        public bool Paused { get { return Field.Bool(Fields, "paused") ?? false; } }
        public string Error { get { return Field.String(Fields, "error"); } }
        /// <summary>"device", "engine" or "file"; null from a 1.0 server.</summary>
        public string Output { get { return Field.String(Fields, "output"); } }
        /// <summary>Engine mode: frames pulled so far, at the engine's rate.</summary>
        public long Position { get { return Field.Long(Fields, "position") ?? 0; } }
    }

    /// <summary>The <c>audio_open</c> reply (protocol 1.1).</summary>
    public sealed class AudioOpenReply : Reply
    {
        public AudioOpenReply(IDictionary<string, object> fields) : base(fields) { }

        public int SampleRate { get { return (int)(Field.Long(Fields, "sample_rate") ?? 0); } }
        public int Channels { get { return (int)(Field.Long(Fields, "channels") ?? 0); } }
        /// <summary>Stream position (frames at the engine's rate) of the next frame a pull returns.</summary>
        public long Position { get { return Field.Long(Fields, "position") ?? 0; } }
        public double Ahead { get { return Field.Double(Fields, "ahead") ?? 0; } }
        public int MaxFrames { get { return (int)(Field.Long(Fields, "max_frames") ?? 0); } }
    }

    /// <summary>The <c>audio_pull</c> reply: a block of interleaved float32 PCM.</summary>
    public sealed class AudioPullReply : Reply
    {
        public AudioPullReply(IDictionary<string, object> fields) : base(fields) { }

        public long Position { get { return Field.Long(Fields, "position") ?? -1; } }
        public int Frames { get { return (int)(Field.Long(Fields, "frames") ?? 0); } }
        public int Channels { get { return (int)(Field.Long(Fields, "channels") ?? 0); } }
        /// <summary>float32 little-endian, interleaved, Frames * Channels * 4 bytes.</summary>
        public byte[] Pcm { get { return Fields.TryGetValue("pcm", out var pcm) ? pcm as byte[] : null; } }
    }

    /// <summary>Typed reads of decoded msgpack maps: absent, nil or a wrong type read as null.</summary>
    public static class Field
    {
        public static long? Long(IDictionary<string, object> map, string key)
        {
            if (map == null || !map.TryGetValue(key, out var v)) return null;
            if (v is long l) return l;
            if (v is ulong u && u <= long.MaxValue) return (long)u;
            if (v is double d && d == Math.Floor(d) && Math.Abs(d) < 9e18) return (long)d;
            return null;
        }

        public static ulong? ULong(IDictionary<string, object> map, string key)
        {
            if (map == null || !map.TryGetValue(key, out var v)) return null;
            if (v is ulong u) return u;
            if (v is long l && l >= 0) return (ulong)l;
            return null;
        }

        public static double? Double(IDictionary<string, object> map, string key)
        {
            if (map == null || !map.TryGetValue(key, out var v)) return null;
            if (v is double d) return d;
            if (v is long l) return l;
            if (v is ulong u) return u;
            return null;
        }

        public static bool? Bool(IDictionary<string, object> map, string key)
        {
            if (map == null || !map.TryGetValue(key, out var v)) return null;
            return v as bool?;
        }

        public static string String(IDictionary<string, object> map, string key)
        {
            if (map == null || !map.TryGetValue(key, out var v)) return null;
            return v as string;
        }

        public static IDictionary<string, object> Map(IDictionary<string, object> map, string key)
        {
            if (map == null || !map.TryGetValue(key, out var v)) return null;
            return v as IDictionary<string, object>;
        }

        public static string[] Strings(IDictionary<string, object> map, string key)
        {
            if (map == null || !map.TryGetValue(key, out var v) || !(v is object[] items)) return new string[0];
            var strings = new List<string>(items.Length);
            foreach (var item in items)
                if (item is string s) strings.Add(s);
            return strings.ToArray();
        }
    }
}
