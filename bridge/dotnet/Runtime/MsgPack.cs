// The msgpack subset the bridge protocol uses (PROTOCOL.md §1): nil, bool, integers,
// float32/float64, str, bin, array and map with string keys. No ext types: the protocol
// has none, and refusing them keeps the decoder small.
using System;
using System.Collections.Generic;
using System.Text;

namespace AdaptiveMusicBridge
{
    /// <summary>Encodes values as msgpack into a growable buffer that can be reused.</summary>
    /// <remarks>
    /// Integers take the smallest encoding (as every msgpack library does); a double is
    /// float64 and a float is float32; strings are UTF-8 <c>str</c>, byte arrays <c>bin</c>.
    /// Supported values: null, bool, all integer types, float, double, string, byte[],
    /// IDictionary&lt;string, object&gt; and IList&lt;object&gt; (or object[]).
    /// </remarks>
    public sealed class MsgPackWriter
    {
        byte[] buffer;
        int length;

        public MsgPackWriter(int capacity = 256) { buffer = new byte[capacity]; }

        /// <summary>The encoded bytes so far (valid until the next write or Clear).</summary>
        public ArraySegment<byte> Written { get { return new ArraySegment<byte>(buffer, 0, length); } }

        public int Length { get { return length; } }

        public void Clear() { length = 0; }

        public byte[] ToArray()
        {
            var copy = new byte[length];
            Buffer.BlockCopy(buffer, 0, copy, 0, length);
            return copy;
        }

        public void WriteNil() { Put(0xc0); }

        public void WriteBool(bool value) { Put(value ? (byte)0xc3 : (byte)0xc2); }

        public void WriteInt(long value)
        {
            if (value >= 0) { WriteUInt((ulong)value); return; }
            if (value >= -32) Put((byte)(sbyte)value);
            else if (value >= sbyte.MinValue) { Put(0xd0); Put((byte)(sbyte)value); }
            else if (value >= short.MinValue) { Put(0xd1); PutBigEndian((ulong)(ushort)(short)value, 2); }
            else if (value >= int.MinValue) { Put(0xd2); PutBigEndian((ulong)(uint)(int)value, 4); }
            else { Put(0xd3); PutBigEndian((ulong)value, 8); }
        }

        public void WriteUInt(ulong value)
        {
            if (value <= 0x7f) Put((byte)value);
            else if (value <= byte.MaxValue) { Put(0xcc); Put((byte)value); }
            else if (value <= ushort.MaxValue) { Put(0xcd); PutBigEndian(value, 2); }
            else if (value <= uint.MaxValue) { Put(0xce); PutBigEndian(value, 4); }
            else { Put(0xcf); PutBigEndian(value, 8); }
        }

        public void WriteDouble(double value)
        {
            Put(0xcb);
            PutBigEndian((ulong)BitConverter.DoubleToInt64Bits(value), 8);
        }

        public void WriteFloat(float value)
        {
            Put(0xca);
            PutBigEndian((ulong)(uint)BitConverter.ToInt32(BitConverter.GetBytes(value), 0), 4);
        }

        public void WriteString(string value)
        {
            int count = Encoding.UTF8.GetByteCount(value);
            if (count <= 31) Put((byte)(0xa0 | count));
            else if (count <= byte.MaxValue) { Put(0xd9); Put((byte)count); }
            else if (count <= ushort.MaxValue) { Put(0xda); PutBigEndian((ulong)count, 2); }
            else { Put(0xdb); PutBigEndian((ulong)count, 4); }
            Reserve(count);
            length += Encoding.UTF8.GetBytes(value, 0, value.Length, buffer, length);
        }

        public void WriteBin(byte[] value, int offset, int count)
        {
            if (count <= byte.MaxValue) { Put(0xc4); Put((byte)count); }
            else if (count <= ushort.MaxValue) { Put(0xc5); PutBigEndian((ulong)count, 2); }
            else { Put(0xc6); PutBigEndian((ulong)count, 4); }
            Reserve(count);
            Buffer.BlockCopy(value, offset, buffer, length, count);
            length += count;
        }

        public void WriteArrayHeader(int count)
        {
            if (count <= 15) Put((byte)(0x90 | count));
            else if (count <= ushort.MaxValue) { Put(0xdc); PutBigEndian((ulong)count, 2); }
            else { Put(0xdd); PutBigEndian((ulong)count, 4); }
        }

        public void WriteMapHeader(int count)
        {
            if (count <= 15) Put((byte)(0x80 | count));
            else if (count <= ushort.MaxValue) { Put(0xde); PutBigEndian((ulong)count, 2); }
            else { Put(0xdf); PutBigEndian((ulong)count, 4); }
        }

        /// <summary>Writes any supported value (see the class remarks).</summary>
        public void Write(object value)
        {
            if (value == null) { WriteNil(); return; }
            if (value is bool b) WriteBool(b);
            else if (value is string s) WriteString(s);
            else if (value is double d) WriteDouble(d);
            else if (value is float f) WriteFloat(f);
            else if (value is ulong u) WriteUInt(u);
            else if (value is uint u32) WriteUInt(u32);
            else if (value is ushort u16) WriteUInt(u16);
            else if (value is byte u8) WriteUInt(u8);
            else if (value is long l) WriteInt(l);
            else if (value is int i) WriteInt(i);
            else if (value is short i16) WriteInt(i16);
            else if (value is sbyte i8) WriteInt(i8);
            else if (value is byte[] bytes) WriteBin(bytes, 0, bytes.Length);
            else if (value is IDictionary<string, object> map)
            {
                WriteMapHeader(map.Count);
                foreach (var pair in map)
                {
                    WriteString(pair.Key);
                    Write(pair.Value);
                }
            }
            else if (value is IList<object> list)
            {
                WriteArrayHeader(list.Count);
                for (int k = 0; k < list.Count; k++) Write(list[k]);
            }
            else throw new ArgumentException("msgpack: cannot encode a " + value.GetType().Name);
        }

        void Put(byte value)
        {
            Reserve(1);
            buffer[length++] = value;
        }

        void PutBigEndian(ulong value, int bytes)
        {
            Reserve(bytes);
            for (int k = bytes - 1; k >= 0; k--) buffer[length++] = (byte)(value >> (8 * k));
        }

        void Reserve(int more)
        {
            if (length + more <= buffer.Length) return;
            Array.Resize(ref buffer, Math.Max(buffer.Length * 2, length + more));
        }
    }

    /// <summary>Encodes and decodes single msgpack values.</summary>
    /// <remarks>
    /// Decoded values: null, bool, long (ulong above long.MaxValue), double (float32 widened),
    /// string, byte[], object[] and Dictionary&lt;string, object&gt;. Anything else, a map key
    /// that is not a string, truncated input, trailing bytes or nesting deeper than
    /// <see cref="MaxDepth"/> is a <see cref="FormatException"/>.
    /// </remarks>
    public static class MsgPack
    {
        public const int MaxDepth = 64;

        public static byte[] Encode(object value)
        {
            var writer = new MsgPackWriter();
            writer.Write(value);
            return writer.ToArray();
        }

        public static object Decode(byte[] data) { return Decode(data, 0, data.Length); }

        public static object Decode(byte[] data, int offset, int count)
        {
            var reader = new Reader(data, offset, offset + count);
            object value = reader.Value(0);
            if (reader.Position != offset + count)
                throw new FormatException("msgpack: " + (offset + count - reader.Position) + " bytes after the value");
            return value;
        }

        struct Reader
        {
            readonly byte[] data;
            readonly int end;
            public int Position;

            public Reader(byte[] data, int start, int end)
            {
                this.data = data;
                this.end = end;
                Position = start;
            }

            public object Value(int depth)
            {
                if (depth > MaxDepth) throw new FormatException("msgpack: nested deeper than " + MaxDepth);
                byte tag = Byte();
                if (tag <= 0x7f) return (long)tag;
                if (tag >= 0xe0) return (long)(sbyte)tag;
                if ((tag & 0xf0) == 0x80) return Map(tag & 0x0f, depth);
                if ((tag & 0xf0) == 0x90) return Array(tag & 0x0f, depth);
                if ((tag & 0xe0) == 0xa0) return Str(tag & 0x1f);
                switch (tag)
                {
                    case 0xc0: return null;
                    case 0xc2: return false;
                    case 0xc3: return true;
                    case 0xc4: return Bin((int)BigEndian(1));
                    case 0xc5: return Bin((int)BigEndian(2));
                    case 0xc6: return Bin(Length32());
                    case 0xca:
                        return (double)BitConverter.ToSingle(BitConverter.GetBytes((uint)BigEndian(4)), 0);
                    case 0xcb: return BitConverter.Int64BitsToDouble((long)BigEndian(8));
                    case 0xcc: return (long)BigEndian(1);
                    case 0xcd: return (long)BigEndian(2);
                    case 0xce: return (long)BigEndian(4);
                    case 0xcf:
                        ulong u = BigEndian(8);
                        return u <= long.MaxValue ? (object)(long)u : u;
                    case 0xd0: return (long)(sbyte)BigEndian(1);
                    case 0xd1: return (long)(short)BigEndian(2);
                    case 0xd2: return (long)(int)BigEndian(4);
                    case 0xd3: return (long)BigEndian(8);
                    case 0xd9: return Str((int)BigEndian(1));
                    case 0xda: return Str((int)BigEndian(2));
                    case 0xdb: return Str(Length32());
                    case 0xdc: return Array((int)BigEndian(2), depth);
                    case 0xdd: return Array(Length32(), depth);
                    case 0xde: return Map((int)BigEndian(2), depth);
                    case 0xdf: return Map(Length32(), depth);
                }
                throw new FormatException("msgpack: unsupported type byte 0x" + tag.ToString("x2"));
            }

            Dictionary<string, object> Map(int count, int depth)
            {
                Need(count); // at least one byte per key: a bound before allocating
                var map = new Dictionary<string, object>(count);
                for (int k = 0; k < count; k++)
                {
                    var key = Value(depth + 1) as string;
                    if (key == null) throw new FormatException("msgpack: a map key is not a string");
                    map[key] = Value(depth + 1);
                }
                return map;
            }

            object[] Array(int count, int depth)
            {
                Need(count);
                var items = new object[count];
                for (int k = 0; k < count; k++) items[k] = Value(depth + 1);
                return items;
            }

            string Str(int count)
            {
                Need(count);
                string s = Encoding.UTF8.GetString(data, Position, count);
                Position += count;
                return s;
            }

            byte[] Bin(int count)
            {
                Need(count);
                var bytes = new byte[count];
                Buffer.BlockCopy(data, Position, bytes, 0, count);
                Position += count;
                return bytes;
            }

            int Length32()
            {
                ulong n = BigEndian(4);
                if (n > int.MaxValue) throw new FormatException("msgpack: length " + n + " is too large");
                return (int)n;
            }

            ulong BigEndian(int bytes)
            {
                Need(bytes);
                ulong value = 0;
                for (int k = 0; k < bytes; k++) value = (value << 8) | data[Position++];
                return value;
            }

            byte Byte()
            {
                Need(1);
                return data[Position++];
            }

            void Need(int count)
            {
                if (count > end - Position) throw new FormatException("msgpack: truncated");
            }
        }
    }
}
