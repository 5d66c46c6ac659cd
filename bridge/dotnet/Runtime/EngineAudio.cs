// Engine output (protocol 1.1, `serve --output engine`): a background thread keeps a local
// ring filled with audio_pull on its own DEALER; the engine's audio callback reads the ring
// with no allocation and no lock. The engine's callback is the clock: the server only
// generates as far ahead as this client has pulled.
using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace AdaptiveMusicBridge
{
    /// <summary>What the pull thread is doing.</summary>
    public enum EngineAudioState { Connecting, NotEngineMode, Streaming, Failed, Closed }

    /// <summary>Pulls the server's PCM into a local ring for the engine's audio callback.</summary>
    /// <remarks>
    /// The ring holds about <c>engineBufferFrames + 2 * pullFrames</c> frames; a pull is sent
    /// whenever a whole block fits. When the ring is empty, <see cref="Read"/> outputs silence
    /// and counts an underrun (not before the first block arrived). Block positions are checked
    /// to be contiguous; a jump (a restarted server) is counted in Discontinuities and the
    /// played position follows it, so events stay aligned with what is heard.
    /// </remarks>
    public sealed class EngineAudio : IDisposable
    {
        readonly CommandChannel channel;
        readonly FloatRing ring;
        readonly float[] block;        // pull thread: one decoded block
        readonly float[] convertFrames; // audio thread: frames being mapped to the engine's channel count
        readonly ManualResetEvent stop = new ManualResetEvent(false);
        readonly Thread puller;
        readonly Dictionary<string, object> pullFields;
        readonly Dictionary<string, object> openFields;
        long nextPosition = -1;        // pull thread: where the next block must start
        long markerFrame = long.MaxValue, markerOffset; // pull thread -> audio thread: position jumps
        long positionOffset;            // audio thread: stream position minus frames read
        long underruns, underrunFrames, pulls, discontinuities;
        volatile bool started;
        volatile EngineAudioState state = EngineAudioState.Connecting;
        volatile string lastError;

        public int SampleRate { get; private set; }
        public int Channels { get; private set; }
        public int PullFrames { get; private set; }

        /// <param name="commands">The server's command address (the same as the client's).</param>
        /// <param name="sampleRate">The engine mixer's rate; the server resamples to it.</param>
        /// <param name="channels">1 or 2.</param>
        /// <param name="engineBufferFrames">Frames the engine asks for per callback.</param>
        public EngineAudio(string commands, int sampleRate, int channels, int engineBufferFrames = 1024,
                           int pullFrames = 1024, int timeoutMs = 2000, ConnectionSettings settings = null)
        {
            if (channels != 1 && channels != 2) throw new ArgumentOutOfRangeException("channels", "1 or 2");
            if (sampleRate < 8000 || sampleRate > 192000) throw new ArgumentOutOfRangeException("sampleRate", "8000..192000");
            if (pullFrames < 1 || pullFrames > 8192) throw new ArgumentOutOfRangeException("pullFrames", "1..8192");
            SampleRate = sampleRate;
            Channels = channels;
            PullFrames = pullFrames;
            ring = new FloatRing((Math.Max(engineBufferFrames, 1) + 2 * pullFrames) * channels);
            block = new float[pullFrames * channels];
            convertFrames = new float[pullFrames * channels];
            pullFields = new Dictionary<string, object> { { "frames", (long)pullFrames } };
            openFields = new Dictionary<string, object> { { "sample_rate", (long)sampleRate }, { "channels", (long)channels } };
            channel = new CommandChannel(commands, timeoutMs, settings);
            puller = new Thread(Run) { IsBackground = true, Name = "adaptive-music audio pull" };
            puller.Start();
        }

        /// <summary>Whether the pull thread or its connection's thread is still alive (both end soon after Dispose).</summary>
        public bool IsRunning { get { return puller.IsAlive || channel.IsRunning; } }

        public EngineAudioState State { get { return state; } }

        /// <summary>Why the stream is not flowing (null while it is).</summary>
        public string LastError { get { return lastError; } }

        /// <summary>Stream position (frames, engine rate) of the next frame <see cref="Read"/> returns.</summary>
        /// <remarks>Events whose <c>sample</c> is below it have been handed to the engine's mixer.</remarks>
        public long Position { get { return ring.TotalRead / Channels + Volatile.Read(ref positionOffset); } }

        /// <summary>Frames in the local ring now.</summary>
        public int BufferedFrames { get { return ring.Available / Channels; } }

        /// <summary>Reads that found the ring short after the stream had started (heard as silence).</summary>
        public long Underruns { get { return Interlocked.Read(ref underruns); } }

        public long UnderrunFrames { get { return Interlocked.Read(ref underrunFrames); } }

        public long Pulls { get { return Interlocked.Read(ref pulls); } }

        /// <summary>Blocks whose position did not follow the last one (a restarted server).</summary>
        public long Discontinuities { get { return Interlocked.Read(ref discontinuities); } }

        /// <summary>The audio callback: fills count samples (interleaved, Channels per frame) from the ring.</summary>
        /// <returns>Samples of music; the rest of the span is silence.</returns>
        /// <remarks>No allocation, no lock, no wait: safe on the engine's real-time audio thread.</remarks>
        public int Read(float[] buffer, int offset, int count)
        {
            int n = ring.Read(buffer, offset, count);
            if (n < count)
            {
                Array.Clear(buffer, offset + n, count - n);
                if (started)
                {
                    Interlocked.Increment(ref underruns);
                    Interlocked.Add(ref underrunFrames, (count - n) / Channels);
                }
            }
            if (n > 0) started = true;
            long frame = ring.TotalRead / Channels;
            long marker = Volatile.Read(ref markerFrame);
            if (frame >= marker)
            {
                Volatile.Write(ref positionOffset, Volatile.Read(ref markerOffset));
                Interlocked.CompareExchange(ref markerFrame, long.MaxValue, marker);
            }
            return n;
        }

        /// <summary>The audio callback for an engine with its own channel count (Unity's speaker mode).</summary>
        /// <remarks>Mono goes to every channel; stereo goes to the first two (their mean for a mono
        /// engine). No allocation.</remarks>
        public void ReadInterleaved(float[] data, int engineChannels)
        {
            if (engineChannels == Channels)
            {
                Read(data, 0, data.Length);
                return;
            }
            int frames = data.Length / engineChannels;
            int chunk = convertFrames.Length / Channels;
            for (int done = 0; done < frames; done += chunk)
            {
                int n = Math.Min(chunk, frames - done);
                Read(convertFrames, 0, n * Channels);
                for (int f = 0; f < n; f++)
                {
                    int to = (done + f) * engineChannels, from = f * Channels;
                    for (int c = 0; c < engineChannels; c++)
                    {
                        float v;
                        if (Channels == 1) v = convertFrames[from];
                        else if (engineChannels == 1) v = 0.5f * (convertFrames[from] + convertFrames[from + 1]);
                        else v = c < 2 ? convertFrames[from + c] : 0f;
                        data[to + c] = v;
                    }
                }
            }
        }

        void Run()
        {
            while (!stop.WaitOne(0))
            {
                if (channel.State != ChannelState.Connected)
                {
                    state = channel.State == ChannelState.Closed ? EngineAudioState.Closed : EngineAudioState.Connecting;
                    lastError = channel.LastError;
                    stop.WaitOne(10);
                    continue;
                }
                var server = channel.Server;
                if (Array.IndexOf(server.Types, "audio_pull") < 0)
                {
                    state = EngineAudioState.NotEngineMode;
                    lastError = channel.Endpoint + ": the server's output is " + (server.Output ?? "its sound device") +
                                " (protocol 1." + server.ProtocolMinor + "); start it with `adaptive-music serve --output engine`";
                    stop.WaitOne(1000);
                    continue;
                }
                try
                {
                    Stream();
                }
                catch (BridgeException e)
                {
                    state = e.Code == BridgeException.Closed ? EngineAudioState.Closed : EngineAudioState.Failed;
                    lastError = e.Message;
                    stop.WaitOne(e.Code == BridgeException.ConnectionLost || e.Code == BridgeException.Unavailable ? 10 : 500);
                }
            }
            state = EngineAudioState.Closed;
        }

        void Stream()
        {
            var open = Wait(channel.Request("audio_open", openFields, f => new AudioOpenReply(f)));
            if (open.SampleRate != SampleRate || open.Channels != Channels)
                throw new BridgeException("bad_reply", "audio_open gave " + open.SampleRate + " Hz x" + open.Channels +
                                                      ", asked for " + SampleRate + " Hz x" + Channels);
            Follow(open.Position);
            state = EngineAudioState.Streaming;
            lastError = null;
            while (!stop.WaitOne(0))
            {
                if (ring.Free < block.Length)
                {
                    stop.WaitOne(2); // the audio thread is never asked to signal: it must not touch a kernel object
                    continue;
                }
                var reply = Wait(channel.Request("audio_pull", pullFields, f => new AudioPullReply(f)));
                var pcm = reply.Pcm;
                if (reply.Frames != PullFrames || reply.Channels != Channels || pcm == null || pcm.Length != block.Length * 4)
                    throw new BridgeException("bad_reply", "audio_pull gave " + reply.Frames + " frames x" + reply.Channels +
                                                          " in " + (pcm == null ? 0 : pcm.Length) + " bytes");
                Follow(reply.Position);
                if (!BitConverter.IsLittleEndian) Reverse4(pcm);
                Buffer.BlockCopy(pcm, 0, block, 0, pcm.Length);
                ring.Write(block, 0, block.Length);
                nextPosition = reply.Position + reply.Frames;
                Interlocked.Increment(ref pulls);
            }
        }

        /// <summary>Checks that a block (or the opened stream) starts where the last block ended.</summary>
        void Follow(long position)
        {
            if (position == nextPosition) return;
            if (nextPosition >= 0) Interlocked.Increment(ref discontinuities);
            long frame = ring.TotalWritten / Channels;
            Volatile.Write(ref markerOffset, position - frame);
            Volatile.Write(ref markerFrame, frame);
            nextPosition = position;
        }

        static void Reverse4(byte[] bytes)
        {
            for (int k = 0; k + 3 < bytes.Length; k += 4)
            {
                byte a = bytes[k], b = bytes[k + 1];
                bytes[k] = bytes[k + 3];
                bytes[k + 1] = bytes[k + 2];
                bytes[k + 2] = b;
                bytes[k + 3] = a;
            }
        }

        static T Wait<T>(Task<T> task)
        {
            try
            {
                return task.Result;
            }
            catch (AggregateException e)
            {
                throw e.InnerException is BridgeException ? e.InnerException
                    : new BridgeException("internal", e.InnerException.Message);
            }
        }

        /// <summary>Stops pulling and closes the audio connection; returns at once.</summary>
        public void Dispose()
        {
            stop.Set();
            channel.Dispose();
        }
    }
}
