// Events on a SUB (PROTOCOL.md §4): two-frame messages [topic, msgpack map], turned into
// typed events and queued for the engine's main thread.
using System;
using System.Collections.Generic;
using System.Text;

namespace AdaptiveMusicBridge
{
    /// <summary>A SUB connection to the server's events socket that fills an EventQueue.</summary>
    /// <remarks>Subscriptions are sent again on every reconnect. ZeroMQ filters by prefix, so
    /// the whole topic is compared here too.</remarks>
    public sealed class EventChannel : ReconnectingChannel
    {
        readonly string[] topics;
        readonly EventQueue queue;

        /// <param name="topics">Topics to receive; none for all.</param>
        public EventChannel(string endpoint, EventQueue queue, string[] topics = null, ConnectionSettings settings = null)
            : base("events", endpoint, "SUB", "PUB", settings)
        {
            this.queue = queue;
            this.topics = topics == null || topics.Length == 0 ? null : topics;
            Start();
        }

        /// <summary>Messages that were not a topic and a msgpack map, and were dropped.</summary>
        public long Malformed { get; private set; }

        protected override void Setup(ZmtpConnection conn)
        {
            if (topics == null) conn.SendRaw(Zmtp.Subscribe(""));
            else foreach (var topic in topics) conn.SendRaw(Zmtp.Subscribe(topic));
        }

        protected override void Session(ZmtpConnection conn)
        {
            while (!IsDisposed)
            {
                if (!conn.Poll(50000)) continue;
                var message = conn.ReceiveMessage();
                var e = Parse(message);
                if (e == null) Malformed++;
                else if (topics == null || Array.IndexOf(topics, e.Topic) >= 0) queue.Add(e);
            }
        }

        static BridgeEvent Parse(List<byte[]> message)
        {
            if (message.Count != 2) return null;
            try
            {
                var fields = MsgPack.Decode(message[1]) as Dictionary<string, object>;
                return fields == null ? null : BridgeEvent.FromMessage(Encoding.UTF8.GetString(message[0]), fields);
            }
            catch (FormatException)
            {
                return null;
            }
        }
    }
}
