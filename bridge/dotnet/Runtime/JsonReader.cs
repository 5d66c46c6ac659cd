// A small strict JSON reader (mono's minimal install and Unity's .NET profiles differ in what JSON
// they offer): the Unity stem player reads stems manifests with it, the console harness its test vectors.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace AdaptiveMusicBridge
{
    /// <summary>A strict JSON reader: objects as Dictionary&lt;string, object&gt;, arrays as List&lt;object&gt;,
    /// strings, numbers as double, booleans and null.</summary>
    public sealed class JsonReader
    {
        readonly string s;
        int i;

        JsonReader(string text) { s = text; }

        /// <summary>The value of the JSON document <paramref name="text"/>; FormatException if it is not one.</summary>
        public static object Parse(string text)
        {
            var reader = new JsonReader(text);
            object value = reader.Value();
            reader.Skip();
            if (reader.i != text.Length) throw new FormatException("trailing text after JSON at character " + reader.i);
            return value;
        }

        object Value()
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
