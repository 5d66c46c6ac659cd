// A single-producer single-consumer ring of floats: the pull thread writes, the engine's
// audio callback reads. No locks and no allocation on either side.
using System;
using System.Threading;

namespace AdaptiveMusicBridge
{
    /// <summary>A lock-free SPSC float ring; counters grow forever so full and empty never look alike.</summary>
    public sealed class FloatRing
    {
        readonly float[] data;
        long written, read; // samples ever written / read; each has one writer thread

        public FloatRing(int capacity)
        {
            if (capacity <= 0) throw new ArgumentOutOfRangeException("capacity");
            data = new float[capacity];
        }

        public int Capacity { get { return data.Length; } }

        /// <summary>Samples that can be read now.</summary>
        public int Available { get { return (int)(Volatile.Read(ref written) - Volatile.Read(ref read)); } }

        /// <summary>Samples that can be written now.</summary>
        public int Free { get { return data.Length - Available; } }

        /// <summary>Samples read since the start.</summary>
        public long TotalRead { get { return Volatile.Read(ref read); } }

        /// <summary>Samples written since the start.</summary>
        public long TotalWritten { get { return Volatile.Read(ref written); } }

        /// <summary>Producer only: writes up to count samples; returns how many fitted.</summary>
        public int Write(float[] source, int offset, int count)
        {
            long w = written;
            int n = Math.Min(count, data.Length - (int)(w - Volatile.Read(ref read)));
            Copy(source, offset, data, (int)(w % data.Length), n, toRing: true);
            Volatile.Write(ref written, w + n);
            return n;
        }

        /// <summary>Consumer only: reads up to count samples; returns how many were there.</summary>
        public int Read(float[] target, int offset, int count)
        {
            long r = read;
            int n = Math.Min(count, (int)(Volatile.Read(ref written) - r));
            Copy(data, (int)(r % data.Length), target, offset, n, toRing: false);
            Volatile.Write(ref read, r + n);
            return n;
        }

        /// <summary>Copies n samples between a flat array and the ring, wrapping at the ring's end.</summary>
        void Copy(float[] from, int fromAt, float[] to, int toAt, int n, bool toRing)
        {
            int ringAt = toRing ? toAt : fromAt;
            int first = Math.Min(n, data.Length - ringAt);
            Array.Copy(from, fromAt, to, toAt, first);
            if (first == n) return;
            if (toRing) Array.Copy(from, fromAt + first, to, 0, n - first);
            else Array.Copy(from, 0, to, toAt + first, n - first);
        }
    }
}
