// A small JSON writer for the console harness (mono's minimal install has no JSON library):
// writes the harness's findings for pytest. It reads with the core's JsonReader.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace AdaptiveMusicBridge.Harness
{
    static class Json
    {
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
