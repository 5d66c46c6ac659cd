// Typed events (PROTOCOL.md §4) and the queue that carries them from the client's
// threads to the engine's main thread.
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;

namespace AdaptiveMusicBridge
{
    /// <summary>One event: from the server's events socket, or about the client's own connections.</summary>
    public class BridgeEvent
    {
        public string Topic { get; private set; }
        public IDictionary<string, object> Fields { get; private set; }

        public BridgeEvent(string topic, IDictionary<string, object> fields)
        {
            Topic = topic;
            Fields = fields;
        }

        /// <summary>Where the event is heard in the output stream, in samples; null for untimed events.</summary>
        public long? Sample { get { return Field.Long(Fields, "sample"); } }

        /// <summary>The typed event for a topic; unknown topics stay a plain BridgeEvent (PROTOCOL.md §4).</summary>
        public static BridgeEvent FromMessage(string topic, IDictionary<string, object> fields)
        {
            switch (topic)
            {
                case "beat": return new BeatEvent(topic, fields);
                case "bar": return new BeatEvent(topic, fields);
                case "mood": return new MoodEvent(fields);
                case "status": return new StatusEvent(fields);
                case "error": return new ErrorEvent(fields);
                default: return new BridgeEvent(topic, fields);
            }
        }
    }

    /// <summary>A <c>beat</c> event, or a <c>bar</c> event (the first beat of a bar: IsBar).</summary>
    public sealed class BeatEvent : BridgeEvent
    {
        public BeatEvent(string topic, IDictionary<string, object> fields) : base(topic, fields) { }

        public bool IsBar { get { return Topic == "bar"; } }
        public int Bar { get { return (int)(Field.Long(Fields, "bar") ?? 0); } }
        public int Beat { get { return (int)(Field.Long(Fields, "beat") ?? 0); } }
        public int BeatsPerBar { get { return (int)(Field.Long(Fields, "beats_per_bar") ?? 0); } }
        public double Bpm { get { return Field.Double(Fields, "bpm") ?? 0; } }
        public double Seconds { get { return Field.Double(Fields, "seconds") ?? 0; } }
    }

    /// <summary>A mood or intensity change starts being heard (Phase "start") or its ramp ends ("end").</summary>
    public sealed class MoodEvent : BridgeEvent
    {
        public MoodEvent(IDictionary<string, object> fields) : base("mood", fields) { }

        public string Phase { get { return Field.String(Fields, "phase"); } }
        public string Text { get { return Field.String(Fields, "text"); } }
        public double Intensity { get { return Field.Double(Fields, "intensity") ?? 0; } }
        public double Seconds { get { return Field.Double(Fields, "seconds") ?? 0; } }
    }

    /// <summary>The periodic <c>status</c> event.</summary>
    public sealed class StatusEvent : BridgeEvent
    {
        public StatusEvent(IDictionary<string, object> fields) : base("status", fields) { Status = new StatusReply(fields); }

        public StatusReply Status { get; private set; }
    }

    /// <summary>An <c>error</c> event from the server, or a command sent fire-and-forget that failed.</summary>
    public sealed class ErrorEvent : BridgeEvent
    {
        public ErrorEvent(IDictionary<string, object> fields) : base("error", fields) { }

        public ErrorEvent(string code, string message)
            : this(new Dictionary<string, object> { { "code", code }, { "message", message } }) { }

        public string Code { get { return Field.String(Fields, "code"); } }
        public string Message { get { return Field.String(Fields, "message"); } }
    }

    /// <summary>The client connected to, or lost, one of the server's sockets (topic "connection").</summary>
    public sealed class ConnectionEvent : BridgeEvent
    {
        public ConnectionEvent(string channel, bool connected, string reason)
            : base("connection", new Dictionary<string, object>
            {
                { "channel", channel }, { "connected", connected }, { "reason", reason }
            }) { }

        /// <summary>"commands", "events" or "audio".</summary>
        public string Channel { get { return Field.String(Fields, "channel"); } }
        public bool Connected { get { return Field.Bool(Fields, "connected") ?? false; } }
        public string Reason { get { return Field.String(Fields, "reason"); } }
    }

    /// <summary>A bounded, thread-safe FIFO of events: the client's threads add, the main thread drains.</summary>
    /// <remarks>Past Capacity the newest event is dropped and counted: an engine that stops
    /// draining (a paused game) must not grow the client's memory without bound.</remarks>
    public sealed class EventQueue
    {
        readonly ConcurrentQueue<BridgeEvent> queue = new ConcurrentQueue<BridgeEvent>();
        readonly int capacity;
        long dropped;

        public EventQueue(int capacity = 10000) { this.capacity = capacity; }

        public int Count { get { return queue.Count; } }

        /// <summary>Events dropped because the queue was full.</summary>
        public long Dropped { get { return Interlocked.Read(ref dropped); } }

        public void Add(BridgeEvent e)
        {
            if (queue.Count >= capacity) Interlocked.Increment(ref dropped);
            else queue.Enqueue(e);
        }

        public bool TryPeek(out BridgeEvent e) { return queue.TryPeek(out e); }

        public bool TryTake(out BridgeEvent e) { return queue.TryDequeue(out e); }
    }
}
