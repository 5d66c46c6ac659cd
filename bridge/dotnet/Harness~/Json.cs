// A small JSON reader and writer for the console harness (mono's minimal install has no
// JSON library): reads the shared test vectors, writes the harness's findings for pytest.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace AdaptiveMusicBridge.Harness
{
    static class Json
    {
        /// <summary>Parses JSON into Dictionary&lt;string, object&gt; (insertion-ordered), List&lt;object&gt;,
        /// string, double, bool and null.</summary>
        public static object Parse(string text)
        {
            int at = 0;
            object value = Value(text, ref at);
            Space(text, ref at);
            if (at != text.Length) throw new FormatException("json: trailing text at " + at);
            return value;
        }

        static object Value(string s, ref int at)
        {
            Space(s, ref at);
            char c = s[at];
            if (c == '{')
            {
                var map = new Dictionary<string, object>();
                at++;
                Space(s, ref at);
                if (s[at] == '}') { at++; return map; }
                while (true)
                {
                    Space(s, ref at);
                    string key = String(s, ref at);
                    Space(s, ref at);
                    Expect(s, ref at, ':');
                    map[key] = Value(s, ref at);
                    Space(s, ref at);
                    if (s[at] == ',') { at++; continue; }
                    Expect(s, ref at, '}');
                    return map;
                }
            }
            if (c == '[')
            {
                var list = new List<object>();
                at++;
                Space(s, ref at);
                if (s[at] == ']') { at++; return list; }
                while (true)
                {
                    list.Add(Value(s, ref at));
                    Space(s, ref at);
                    if (s[at] == ',') { at++; continue; }
                    Expect(s, ref at, ']');
                    return list;
                }
            }
            if (c == '"') return String(s, ref at);
            if (s.Substring(at).StartsWith("true")) { at += 4; return true; }
            if (s.Substring(at).StartsWith("false")) { at += 5; return false; }
            if (s.Substring(at).StartsWith("null")) { at += 4; return null; }
            int start = at;
            while (at < s.Length && "+-0123456789.eE".IndexOf(s[at]) >= 0) at++;
            return double.Parse(s.Substring(start, at - start), CultureInfo.InvariantCulture);
        }

        static string String(string s, ref int at)
        {
            Expect(s, ref at, '"');
            var sb = new StringBuilder();
            while (s[at] != '"')
            {
                char c = s[at++];
                if (c != '\\') { sb.Append(c); continue; }
                char e = s[at++];
                switch (e)
                {
                    case 'n': sb.Append('\n'); break;
                    case 't': sb.Append('\t'); break;
                    case 'r': sb.Append('\r'); break;
                    case 'b': sb.Append('\b'); break;
                    case 'f': sb.Append('\f'); break;
                    case 'u': sb.Append((char)Convert.ToInt32(s.Substring(at, 4), 16)); at += 4; break;
                    default: sb.Append(e); break;
                }
            }
            at++;
            return sb.ToString();
        }

        static void Space(string s, ref int at)
        {
            while (at < s.Length && char.IsWhiteSpace(s[at])) at++;
        }

        static void Expect(string s, ref int at, char c)
        {
            if (s[at] != c) throw new FormatException("json: expected '" + c + "' at " + at);
            at++;
        }

        /// <summary>Writes maps, lists, strings, numbers, bools and null; byte[] as a hex string.</summary>
        public static string Write(object value)
        {
            var sb = new StringBuilder();
            Write(sb, value);
            return sb.ToString();
        }

        static void Write(StringBuilder sb, object value)
        {
            if (value == null) sb.Append("null");
            else if (value is bool) sb.Append((bool)value ? "true" : "false");
            else if (value is string) Quote(sb, (string)value);
            else if (value is double || value is float)
            {
                double d = Convert.ToDouble(value);
                sb.Append(double.IsNaN(d) || double.IsInfinity(d) ? "null" : d.ToString("R", CultureInfo.InvariantCulture));
            }
            else if (value is long || value is int || value is ulong) sb.Append(Convert.ToString(value, CultureInfo.InvariantCulture));
            else if (value is byte[]) Quote(sb, BitConverter.ToString((byte[])value).Replace("-", "").ToLowerInvariant());
            else if (value is IDictionary<string, object>)
            {
                sb.Append('{');
                bool first = true;
                foreach (var pair in (IDictionary<string, object>)value)
                {
                    if (!first) sb.Append(',');
                    first = false;
                    Quote(sb, pair.Key);
                    sb.Append(':');
                    Write(sb, pair.Value);
                }
                sb.Append('}');
            }
            else if (value is System.Collections.IEnumerable)
            {
                sb.Append('[');
                bool first = true;
                foreach (var item in (System.Collections.IEnumerable)value)
                {
                    if (!first) sb.Append(',');
                    first = false;
                    Write(sb, item);
                }
                sb.Append(']');
            }
            else Quote(sb, value.ToString());
        }

        static void Quote(StringBuilder sb, string s)
        {
            sb.Append('"');
            foreach (char c in s)
            {
                if (c == '"' || c == '\\') sb.Append('\\').Append(c);
                else if (c < 0x20) sb.Append("\\u").Append(((int)c).ToString("x4"));
                else sb.Append(c);
            }
            sb.Append('"');
        }
    }
}
