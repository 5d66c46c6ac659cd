// The manifest of an adaptive-music stems build (manifest.json, schema_version 1),
// read with a small JSON reader so that this part needs neither Unity nor a package.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

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
            var root = (Dictionary<string, object>)new JsonReader(json).Value();
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
    }

    /// <summary>A strict reader for the JSON the manifest uses: objects, arrays, strings, numbers, booleans, null.</summary>
    sealed class JsonReader
    {
        readonly string s;
        int i;

        public JsonReader(string text) { s = text; }

        public object Value()
        {
            Skip();
            if (i >= s.Length) throw new FormatException("unexpected end of JSON");
            char c = s[i];
            if (c == '{') return Obj();
            if (c == '[') return Arr();
            if (c == '"') return Str();
            if (Lit("true")) return true;
            if (Lit("false")) return false;
            if (Lit("null")) return null;
            return Number();
        }

        Dictionary<string, object> Obj()
        {
            var d = new Dictionary<string, object>();
            i++;
            Skip();
            if (s[i] == '}') { i++; return d; }
            while (true)
            {
                Skip();
                string key = Str();
                Skip();
                Expect(':');
                d[key] = Value();
                Skip();
                if (s[i] == ',') { i++; continue; }
                Expect('}');
                return d;
            }
        }

        List<object> Arr()
        {
            var a = new List<object>();
            i++;
            Skip();
            if (s[i] == ']') { i++; return a; }
            while (true)
            {
                a.Add(Value());
                Skip();
                if (s[i] == ',') { i++; continue; }
                Expect(']');
                return a;
            }
        }

        string Str()
        {
            Expect('"');
            var b = new StringBuilder();
            while (s[i] != '"')
            {
                char c = s[i++];
                if (c != '\\') { b.Append(c); continue; }
                char e = s[i++];
                switch (e)
                {
                    case 'n': b.Append('\n'); break;
                    case 't': b.Append('\t'); break;
                    case 'r': b.Append('\r'); break;
                    case 'b': b.Append('\b'); break;
                    case 'f': b.Append('\f'); break;
                    case 'u': b.Append((char)int.Parse(s.Substring(i, 4), NumberStyles.HexNumber)); i += 4; break;
                    default: b.Append(e); break;
                }
            }
            i++;
            return b.ToString();
        }

        double Number()
        {
            int start = i;
            while (i < s.Length && "+-0123456789.eE".IndexOf(s[i]) >= 0) i++;
            if (start == i) throw new FormatException("bad JSON at character " + i);
            return double.Parse(s.Substring(start, i - start), CultureInfo.InvariantCulture);
        }

        bool Lit(string word)
        {
            if (string.CompareOrdinal(s, i, word, 0, word.Length) != 0) return false;
            i += word.Length;
            return true;
        }

        void Expect(char c)
        {
            if (i >= s.Length || s[i] != c) throw new FormatException("expected '" + c + "' at character " + i);
            i++;
        }

        void Skip() { while (i < s.Length && char.IsWhiteSpace(s[i])) i++; }
    }
}
