// The client an engine holds: typed methods for every request of protocol 1.1, and the
// events of the server (and of the client's own connections) in one queue.
using System;
using System.Collections.Generic;
using System.Threading.Tasks;

namespace AdaptiveMusicBridge
{
    /// <summary>Where a mood change starts (PROTOCOL.md §3, set_mood).</summary>
    public enum Quantize { Now, Beat, Bar }

    /// <summary>A client of `adaptive-music serve`: commands on a DEALER, events on a SUB.</summary>
    /// <example><code>
    /// using (var music = new BridgeClient("tcp://127.0.0.1:5555", "tcp://127.0.0.1:5556"))
    /// {
    ///     music.Commands.WaitUntilConnected(1000);
    ///     music.SetMoodAsync("tense stealth", Quantize.Bar, 2.0).Wait();
    ///     BridgeEvent e;
    ///     while (music.Events.TryTake(out e)) Console.WriteLine(e.Topic);
    /// }
    /// </code></example>
    /// <remarks>
    /// Every method may be called from any thread and never blocks: it returns a task that
    /// ends with the reply, a BridgeException (the server's error code, or unavailable,
    /// timeout, connection_lost, version_mismatch, closed) or nothing else. Both connections
    /// reconnect by themselves with back-off; ConnectionEvents in <see cref="Events"/> say when.
    /// Dispose returns at once.
    /// </remarks>
    public sealed class BridgeClient : IDisposable
    {
        public CommandChannel Commands { get; private set; }

        /// <summary>The events socket, or null when the client was made without one.</summary>
        public EventChannel EventSocket { get; private set; }

        /// <summary>Server events and connection changes, for the engine's main thread to drain.</summary>
        public EventQueue Events { get; private set; }

        /// <param name="events">The events address, or null for commands only.</param>
        /// <param name="topics">Event topics to receive (none: all).</param>
        public BridgeClient(string commands = "tcp://127.0.0.1:5555", string events = "tcp://127.0.0.1:5556",
                            int timeoutMs = 2000, string[] topics = null, ConnectionSettings settings = null,
                            int eventCapacity = 10000)
        {
            Events = new EventQueue(eventCapacity);
            Commands = new CommandChannel(commands, timeoutMs, settings);
            Commands.ConnectionChanged += Events.Add;
            if (events != null)
            {
                EventSocket = new EventChannel(events, Events, topics, settings);
                EventSocket.ConnectionChanged += Events.Add;
            }
        }

        /// <summary>True while the command connection is up and its hello matched.</summary>
        public bool IsConnected { get { return Commands.State == ChannelState.Connected; } }

        /// <summary>The server's hello on the current connection (null before the first).</summary>
        public HelloReply Server { get { return Commands.Server; } }

        public Task<HelloReply> HelloAsync() { return Commands.Request("hello", null, f => new HelloReply(f)); }

        public Task<StatusReply> StatusAsync() { return Commands.Request("status", null, f => new StatusReply(f)); }

        /// <summary>set_mood: a mood text or a mood name; quantize and ramp (seconds) are optional.</summary>
        public Task<MoodReply> SetMoodAsync(string text, Quantize? quantize = null, double? ramp = null)
        {
            var fields = new Dictionary<string, object> { { "text", text } };
            if (quantize.HasValue || ramp.HasValue)
            {
                var transition = new Dictionary<string, object>();
                if (quantize.HasValue) transition["quantize"] = quantize.Value.ToString().ToLowerInvariant();
                if (ramp.HasValue) transition["ramp"] = ramp.Value;
                fields["transition"] = transition;
            }
            return Commands.Request("set_mood", fields, f => new MoodReply(f));
        }

        /// <summary>event: a game event name from the server's mood map, with optional params.</summary>
        public Task<MoodReply> SendEventAsync(string name, IDictionary<string, object> parameters = null)
        {
            var fields = new Dictionary<string, object> { { "name", name } };
            if (parameters != null) fields["params"] = parameters;
            return Commands.Request("event", fields, f => new MoodReply(f));
        }

        public Task<Reply> SetParamAsync(string name, double value)
        {
            return Commands.Request("set_param", new Dictionary<string, object> { { "name", name }, { "value", value } },
                                    f => new Reply(f));
        }

        /// <summary>set_param intensity, in [0, 1].</summary>
        public Task<Reply> SetIntensityAsync(double value) { return SetParamAsync("intensity", value); }

        public Task<Reply> StingerAsync(string name)
        {
            return Commands.Request("stinger", new Dictionary<string, object> { { "name", name } }, f => new Reply(f));
        }

        public Task<Reply> PauseAsync() { return Commands.Request("pause", null, f => new Reply(f)); }

        public Task<Reply> ResumeAsync() { return Commands.Request("resume", null, f => new Reply(f)); }

        /// <summary>audio_open (protocol 1.1, `serve --output engine`): the engine's mixer rate and channels.</summary>
        public Task<AudioOpenReply> AudioOpenAsync(int sampleRate, int channels)
        {
            return Commands.Request("audio_open", new Dictionary<string, object>
            {
                { "sample_rate", (long)sampleRate }, { "channels", (long)channels }
            }, f => new AudioOpenReply(f));
        }

        /// <summary>audio_pull (protocol 1.1): the next block of frames, contiguous with the last.</summary>
        public Task<AudioPullReply> AudioPullAsync(int frames)
        {
            return Commands.Request("audio_pull", new Dictionary<string, object> { { "frames", (long)frames } },
                                    f => new AudioPullReply(f));
        }

        /// <summary>Any request type, for types this client has no method for.</summary>
        public Task<Reply> RequestAsync(string type, IDictionary<string, object> fields = null)
        {
            return Commands.Request(type, fields, f => new Reply(f));
        }

        public void Dispose()
        {
            Commands.Dispose();
            if (EventSocket != null) EventSocket.Dispose();
        }
    }
}
