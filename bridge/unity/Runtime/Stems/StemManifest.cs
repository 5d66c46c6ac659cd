// The manifest of an adaptive-music stems build (manifest.json, schema_version 1),
// read with the C# core's JSON reader, so that this part needs no Unity and no other package.
using System;
using System.Collections.Generic;
using System.Globalization;
using AdaptiveMusicBridge;

namespace AdaptiveMusicUnity.Stems
{
    public sealed class StemLayer
    {
        public string Name;
        public string File;
        /// <summary>The lowest intensity at which the composer plays this layer.</summary>
        public float EntersAt;
    }

    public sealed class StemMood
    {
        public string Name;
        public double Bpm;
        public int BeatsPerBar;
        public long BarSamples;
        public string LoopFile;
        public long LoopLength;
        public List<StemLayer> Layers = new List<StemLayer>();
        public Dictionary<string, string> Stingers = new Dictionary<string, string>();
    }

    public sealed class StemTransition
    {
        public string From;
        public string To;
        public string File;
        public long Samples;
        public string Quantize;
    }

    public sealed class StemManifest
    {
        public int SampleRate;
        public List<StemMood> Moods = new List<StemMood>();
        public List<StemTransition> Transitions = new List<StemTransition>();

        public StemMood Mood(string name)
        {
            foreach (var m in Moods) if (m.Name == name) return m;
            throw new KeyException("unknown mood '" + name + "'");
        }

        public StemTransition Transition(string from, string to)
        {
            foreach (var t in Transitions) if (t.From == from && t.To == to) return t;
            return null;
        }

        public static StemManifest Parse(string json)
        {
            var root = (Dictionary<string, object>)JsonReader.Parse(json);
            if (Convert.ToInt32(root["schema_version"], CultureInfo.InvariantCulture) != 1)
                throw new FormatException("not a stems manifest of schema version 1");
            var m = new StemManifest();
            m.SampleRate = Int(((Dictionary<string, object>)root["render"])["sample_rate"]);
            foreach (var kv in (Dictionary<string, object>)root["moods"])
            {
                var o = (Dictionary<string, object>)kv.Value;
                var loop = (Dictionary<string, object>)o["loop"];
                var mood = new StemMood
                {
                    Name = kv.Key, Bpm = Num(o["bpm"]), BeatsPerBar = Int(o["beats_per_bar"]),
                    BarSamples = (long)Num(o["bar_samples"]), LoopFile = (string)loop["file"],
                    LoopLength = (long)Num(loop["loop_length"]),
                };
                foreach (Dictionary<string, object> l in (List<object>)o["layers"])
                    mood.Layers.Add(new StemLayer { Name = (string)l["name"], File = (string)l["file"], EntersAt = (float)Num(l["enters_at"]) });
                if (mood.Layers.Count == 0)  // a build without layers (MusicGen's): its loop is the one layer
                    mood.Layers.Add(new StemLayer { Name = "mix", File = mood.LoopFile, EntersAt = 0f });
                foreach (var s in (Dictionary<string, object>)o["stingers"])
                    mood.Stingers[s.Key] = (string)((Dictionary<string, object>)s.Value)["file"];
                m.Moods.Add(mood);
            }
            foreach (Dictionary<string, object> t in (List<object>)root["transitions"])
                m.Transitions.Add(new StemTransition
                {
                    From = (string)t["from"], To = (string)t["to"], File = (string)t["file"],
                    Samples = (long)Num(t["samples"]), Quantize = (string)t["quantize"],
                });
            return m;
        }

        static double Num(object o) { return Convert.ToDouble(o, CultureInfo.InvariantCulture); }
        static int Int(object o) { return (int)Num(o); }
    }

    public sealed class KeyException : Exception
    {
        public KeyException(string message) : base(message) { }
    }}
