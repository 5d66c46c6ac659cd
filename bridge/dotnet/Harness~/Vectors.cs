// Checks the C# msgpack codec and ZMTP bytes against the shared test vectors
// (bridge/testvectors/*.json, which a Python test checks against msgpack and libzmq).
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace AdaptiveMusicBridge.Harness
{
    static class Vectors
    {
        public static Dictionary<string, object> Check(string directory)
        {
            return new Dictionary<string, object>
            {
                { "msgpack", CheckMsgPack(Path.Combine(directory, "msgpack.json")) },
                { "zmtp", CheckZmtp(Path.Combine(directory, "zmtp.json")) },
            };
        }

        static Dictionary<string, object> CheckMsgPack(string path)
        {
            var failures = new List<object>();
            int decoded = 0, encoded = 0;
            foreach (Dictionary<string, object> v in Load(path))
            {
                string name = (string)v["name"];
                byte[] bytes = Hex((string)v["hex"]);
                object expected = Typed((Dictionary<string, object>)v["value"]);
                try
                {
                    object got = MsgPack.Decode(bytes);
                    if (!Same(got, expected)) failures.Add("decode " + name + ": got " + Json.Write(got));
                    decoded++;
                }
                catch (Exception e)
                {
                    failures.Add("decode " + name + ": " + e.Message);
                }
                if (!(bool)v["canonical"]) continue;
                string hex = ToHex(MsgPack.Encode(expected));
                if (hex != (string)v["hex"]) failures.Add("encode " + name + ": wrote " + hex);
                encoded++;
            }
            return new Dictionary<string, object> { { "decoded", decoded }, { "encoded", encoded }, { "failures", failures } };
        }

        static Dictionary<string, object> CheckZmtp(string path)
        {
            var failures = new List<object>();
            var checkedNames = new List<object>();
            var skipped = new List<object>();
            foreach (Dictionary<string, object> v in Load(path))
            {
                string name = (string)v["name"], kind = (string)v["kind"];
                byte[] ours = null;
                if (kind == "greeting" && name == "greeting client NULL 3.0") ours = Zmtp.Greeting();
                else if (kind == "command" && (string)v["command"] == "READY")
                {
                    var props = ((List<object>)v["properties"]).Cast<List<object>>().ToList();
                    string type = System.Text.Encoding.ASCII.GetString(Hex((string)props[0][1]));
                    byte[] identity = props.Count > 1 ? Hex((string)props[1][1]) : null;
                    ours = Zmtp.Ready(type, identity);
                }
                else if (kind == "frame")
                {
                    var body = Hex((string)v["body_hex"]);
                    ours = Zmtp.Frame(body, 0, body.Length, (bool)v["more"]);
                }
                else if (kind == "subscribe") ours = Zmtp.Subscribe(System.Text.Encoding.UTF8.GetString(Hex((string)v["topic_hex"])));
                else if (kind == "message")
                {
                    var frames = (List<object>)v["frames"];
                    ours = frames.Cast<Dictionary<string, object>>().SelectMany(f =>
                    {
                        var body = Hex((string)f["body_hex"]);
                        return Zmtp.Frame(body, 0, body.Length, (bool)f["more"]);
                    }).ToArray();
                }
                if (ours == null)
                {
                    skipped.Add(name); // peers' greetings, 3.1 commands, cancels: a 3.0 DEALER/SUB never sends them
                    continue;
                }
                checkedNames.Add(name);
                if (ToHex(ours) != (string)v["hex"]) failures.Add(name + ": wrote " + ToHex(ours));
            }
            return new Dictionary<string, object> { { "checked", checkedNames }, { "skipped", skipped }, { "failures", failures } };
        }

        static List<object> Load(string path)
        {
            return (List<object>)((Dictionary<string, object>)JsonReader.Parse(File.ReadAllText(path)))["vectors"];
        }

        /// <summary>The value a typed vector stands for, as the C# codec represents it.</summary>
        static object Typed(Dictionary<string, object> t)
        {
            switch ((string)t["type"])
            {
                case "nil": return null;
                case "bool": return (bool)t["value"];
                case "str": return (string)t["value"];
                case "bin": return Hex((string)t["hex"]);
                case "int":
                    string text = (string)t["value"];
                    if (text.StartsWith("-")) return long.Parse(text);
                    ulong u = ulong.Parse(text);
                    return u <= long.MaxValue ? (object)(long)u : u;
                case "float64":
                    return BitConverter.Int64BitsToDouble((long)Convert.ToUInt64((string)t["bits"], 16));
                case "float32":
                    return BitConverter.ToSingle(BitConverter.GetBytes(Convert.ToUInt32((string)t["bits"], 16)), 0);
                case "array": return ((List<object>)t["value"]).Select(x => Typed((Dictionary<string, object>)x)).ToArray();
                case "map":
                    var map = new Dictionary<string, object>();
                    foreach (List<object> pair in (List<object>)t["value"])
                        map[(string)Typed((Dictionary<string, object>)pair[0])] = Typed((Dictionary<string, object>)pair[1]);
                    return map;
            }
            throw new FormatException("unknown typed value " + t["type"]);
        }

        static bool Same(object got, object expected)
        {
            if (expected == null) return got == null;
            if (expected is float) return got is double && (double)got == (double)(float)expected;
            if (expected is double) return got is double && BitConverter.DoubleToInt64Bits((double)got) == BitConverter.DoubleToInt64Bits((double)expected);
            if (expected is byte[]) return got is byte[] && ((byte[])got).SequenceEqual((byte[])expected);
            if (expected is object[])
            {
                var a = got as object[];
                var b = (object[])expected;
                return a != null && a.Length == b.Length && a.Zip(b, Same).All(x => x);
            }
            if (expected is Dictionary<string, object>)
            {
                var a = got as Dictionary<string, object>;
                var b = (Dictionary<string, object>)expected;
                return a != null && a.Count == b.Count && b.All(p => a.ContainsKey(p.Key) && Same(a[p.Key], p.Value));
            }
            return got != null && got.GetType() == expected.GetType() && got.Equals(expected);
        }

        public static byte[] Hex(string hex)
        {
            var bytes = new byte[hex.Length / 2];
            for (int k = 0; k < bytes.Length; k++) bytes[k] = Convert.ToByte(hex.Substring(2 * k, 2), 16);
            return bytes;
        }

        static string ToHex(byte[] bytes) { return BitConverter.ToString(bytes).Replace("-", "").ToLowerInvariant(); }
    }
}
