// Requests on a DEALER (PROTOCOL.md §2): each gets an id, any number may be in flight
// (pipelining), and the reply is matched by id. Sending happens on the caller's thread;
// replies are read, and timeouts swept, by the channel's own thread.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace AdaptiveMusicBridge
{
    /// <summary>A DEALER connection to the server's command socket, with request ids and timeouts.</summary>
    /// <remarks>
    /// On every (re)connect the channel sends <c>hello</c> and checks the protocol version
    /// before it accepts requests. While it is not connected, requests fail at once with
    /// code <c>unavailable</c> (or <c>version_mismatch</c>) and the reason; they never wait for
    /// the server. Requests in flight when the connection breaks fail with <c>connection_lost</c>.
    /// </remarks>
    public sealed class CommandChannel : ReconnectingChannel
    {
        public const int ProtocolVersion = 1;

        /// <summary>Highest minor revision of protocol 1 this client knows (1.1: engine output).</summary>
        public const int ProtocolMinor = 1;

        const int PollMicroseconds = 5000; // timeout sweep resolution

        abstract class Pending
        {
            public long Deadline; // Stopwatch ticks
            public string Type;
            public abstract void Complete(IDictionary<string, object> reply);
            public abstract void Fail(Exception error);
        }

        sealed class Pending<T> : Pending where T : Reply
        {
            public readonly TaskCompletionSource<T> Source =
                new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
            public Func<IDictionary<string, object>, T> Make;

            public override void Complete(IDictionary<string, object> reply)
            {
                if (Field.Bool(reply, "ok") == true || Make == null) Source.TrySetResult(Make == null ? (T)new Reply(reply) : Make(reply));
                else
                {
                    var error = Field.Map(reply, "error");
                    Source.TrySetException(new BridgeException(Field.String(error, "code") ?? "internal",
                                                               Field.String(error, "message") ?? "(no message)"));
                }
            }

            public override void Fail(Exception error) { Source.TrySetException(error); }
        }

        [ThreadStatic] static MsgPackWriter writer;
        readonly int timeoutMs;
        readonly object pendingLock = new object();
        readonly Dictionary<ulong, Pending> pending = new Dictionary<ulong, Pending>();
        readonly Queue<Pending> unreadable = new Queue<Pending>(); // raw frames: their replies carry id nil
        long nextId;
        HelloReply server;

        /// <param name="timeoutMs">Default time a request waits for its reply.</param>
        public CommandChannel(string endpoint, int timeoutMs = 2000, ConnectionSettings settings = null)
            : base("commands", endpoint, "DEALER", "ROUTER", settings)
        {
            this.timeoutMs = timeoutMs;
            Start();
        }

        /// <summary>The <c>hello</c> reply of the current connection, or null before the first.</summary>
        public HelloReply Server { get { return server; } }

        /// <summary>Replies that could not be decoded or matched to nothing and were dropped.</summary>
        public long StrayReplies { get; private set; }

        /// <summary>Sends a request of <c>type</c> with extra <c>fields</c>; the task ends with the reply.</summary>
        /// <remarks>Fails (never blocks) when not connected. An error reply fails the task with a
        /// BridgeException carrying the server's code.</remarks>
        public Task<T> Request<T>(string type, IDictionary<string, object> fields, Func<IDictionary<string, object>, T> make,
                                  int timeoutMs = -1) where T : Reply
        {
            ulong id = (ulong)Interlocked.Increment(ref nextId);
            var request = new Pending<T> { Type = type, Make = make };
            var w = writer ?? (writer = new MsgPackWriter());
            w.Clear();
            w.WriteMapHeader(3 + (fields == null ? 0 : fields.Count));
            w.WriteString("v");
            w.WriteInt(ProtocolVersion);
            w.WriteString("id");
            w.WriteUInt(id);
            w.WriteString("type");
            w.WriteString(type);
            if (fields != null)
                foreach (var pair in fields)
                {
                    w.WriteString(pair.Key);
                    w.Write(pair.Value);
                }
            Send(request, id, w.Written, timeoutMs);
            return request.Source.Task;
        }

        /// <summary>Sends raw bytes as one request frame (to test the server's error handling).</summary>
        /// <remarks>The task ends with the next reply whose id is nil, which the server sends for a frame it
        /// cannot read (PROTOCOL.md §5); it completes with that reply even though it is an error.</remarks>
        public Task<Reply> SendRaw(byte[] frame, int timeoutMs = -1)
        {
            var request = new Pending<Reply> { Type = "raw" };
            Send(request, null, new ArraySegment<byte>(frame), timeoutMs);
            return request.Source.Task;
        }

        void Send(Pending request, ulong? id, ArraySegment<byte> frame, int timeout)
        {
            request.Deadline = Stopwatch.GetTimestamp() + (long)((timeout < 0 ? timeoutMs : timeout) * (Stopwatch.Frequency / 1000.0));
            ZmtpConnection conn;
            lock (pendingLock)
            {
                conn = State == ChannelState.Connected ? Connection : null;
                if (conn == null)
                {
                    request.Fail(NotConnected());
                    return;
                }
                if (id.HasValue) pending[id.Value] = request;
                else unreadable.Enqueue(request);
            }
            try
            {
                conn.Send(frame);
            }
            catch (Exception e)
            {
                if (id.HasValue) lock (pendingLock) pending.Remove(id.Value);
                request.Fail(new BridgeException(BridgeException.ConnectionLost, Endpoint + ": sending failed: " + e.Message));
            }
        }

        BridgeException NotConnected()
        {
            if (State == ChannelState.Closed) return new BridgeException(BridgeException.Closed, "the client was disposed");
            if (State == ChannelState.VersionMismatch) return new BridgeException(BridgeException.VersionMismatch, LastError);
            return new BridgeException(BridgeException.Unavailable,
                                       (LastError ?? Endpoint + ": connecting") + "; reconnecting in the background");
        }

        protected override void Setup(ZmtpConnection conn)
        {
            // hello first, inline: nothing else is in flight until the version is known to match.
            ulong id = (ulong)Interlocked.Increment(ref nextId);
            var hello = new Dictionary<string, object> { { "v", (long)ProtocolVersion }, { "id", id }, { "type", "hello" } };
            conn.Send(new ArraySegment<byte>(MsgPack.Encode(hello)));
            var deadline = Stopwatch.GetTimestamp() + Settings.ConnectTimeoutMs * (Stopwatch.Frequency / 1000);
            while (true)
            {
                if (Stopwatch.GetTimestamp() > deadline)
                    throw new TimeoutException("no reply to hello within " + Settings.ConnectTimeoutMs + " ms");
                if (!conn.Poll(PollMicroseconds)) continue;
                var reply = Decode(conn.ReceiveMessage());
                if (reply == null || Field.ULong(reply, "id") != id) continue;
                CheckVersion(reply);
                server = new HelloReply(reply);
                return;
            }
        }

        /// <summary>Throws version_mismatch naming both versions unless the reply is a protocol-1 hello;
        /// another error reply to hello is thrown with its own code.</summary>
        public static void CheckVersion(IDictionary<string, object> reply)
        {
            long? v = Field.Long(reply, "v");
            long? protocol = Field.Long(reply, "protocol");
            var error = Field.Map(reply, "error");
            string code = Field.String(error, "code");
            if (v == ProtocolVersion && code != null && code != "bad_version")
                throw new BridgeException(code, "hello: " + Field.String(error, "message"));
            if (Field.Bool(reply, "ok") == true && v == ProtocolVersion && protocol == ProtocolVersion) return;
            string theirs = protocol.HasValue ? protocol.ToString() : v.HasValue ? v.ToString() : "unknown";
            throw new BridgeException(BridgeException.VersionMismatch,
                "the server speaks bridge protocol " + theirs + ", this client speaks protocol " + ProtocolVersion + "." +
                ProtocolMinor + (error != null ? " (server said: " + Field.String(error, "message") + ")" : ""));
        }

        protected override void Session(ZmtpConnection conn)
        {
            while (!IsDisposed)
            {
                if (conn.Poll(PollMicroseconds)) Dispatch(Decode(conn.ReceiveMessage()));
                SweepTimeouts();
            }
        }

        Dictionary<string, object> Decode(List<byte[]> message)
        {
            try
            {
                if (message.Count == 1) return MsgPack.Decode(message[0]) as Dictionary<string, object>;
            }
            catch (FormatException) { }
            return null;
        }

        void Dispatch(Dictionary<string, object> reply)
        {
            Pending request = null;
            if (reply != null)
            {
                lock (pendingLock)
                {
                    ulong? id = Field.ULong(reply, "id");
                    if (id.HasValue)
                    {
                        if (pending.TryGetValue(id.Value, out request)) pending.Remove(id.Value);
                    }
                    else if (unreadable.Count > 0) request = unreadable.Dequeue();
                }
            }
            if (request != null) request.Complete(reply);
            else StrayReplies++; // a late reply to a request that timed out (PROTOCOL.md §2), or junk
        }

        void SweepTimeouts()
        {
            long now = Stopwatch.GetTimestamp();
            List<Pending> expired = null;
            lock (pendingLock)
            {
                List<ulong> ids = null;
                foreach (var pair in pending)
                    if (pair.Value.Deadline <= now) (ids ?? (ids = new List<ulong>())).Add(pair.Key);
                if (ids != null)
                    foreach (var id in ids)
                    {
                        (expired ?? (expired = new List<Pending>())).Add(pending[id]);
                        pending.Remove(id);
                    }
                while (unreadable.Count > 0 && unreadable.Peek().Deadline <= now)
                    (expired ?? (expired = new List<Pending>())).Add(unreadable.Dequeue());
            }
            if (expired == null) return;
            foreach (var request in expired)
                request.Fail(new BridgeException(BridgeException.Timeout, "no reply to " + request.Type + " from " + Endpoint));
        }

        protected override void OnDisconnected(string reason)
        {
            FailAll(new BridgeException(BridgeException.ConnectionLost, Endpoint + ": " + reason));
        }

        void FailAll(Exception error)
        {
            var failed = new List<Pending>();
            lock (pendingLock)
            {
                failed.AddRange(pending.Values);
                failed.AddRange(unreadable);
                pending.Clear();
                unreadable.Clear();
            }
            foreach (var request in failed) request.Fail(error);
        }

        public override void Dispose()
        {
            base.Dispose();
            FailAll(new BridgeException(BridgeException.Closed, "the client was disposed"));
        }
    }
}
