// ZMTP 3.0 with the NULL mechanism (RFC 23 / RFC 37) over a plain TCP socket: just enough
// of ZeroMQ to be a DEALER or a SUB talking to libzmq's ROUTER and PUB. We announce
// version 3.0, so libzmq sends no heartbeats and takes subscriptions as messages.
using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace AdaptiveMusicBridge
{
    /// <summary>The bytes of ZMTP 3.0 (greeting, commands, frames), built here and nowhere else.</summary>
    public static class Zmtp
    {
        public const int GreetingLength = 64;
        const byte More = 0x01, Long = 0x02, Command = 0x04;

        /// <summary>The 64-byte greeting of a NULL-mechanism client announcing ZMTP 3.0.</summary>
        public static byte[] Greeting()
        {
            var g = new byte[GreetingLength];
            g[0] = 0xff;
            g[9] = 0x7f;
            g[10] = 3; // major
            g[11] = 0; // minor: 3.0
            Encoding.ASCII.GetBytes("NULL", 0, 4, g, 12);
            g[32] = 0; // as-server: no
            return g;
        }

        /// <summary>The READY command frame: Socket-Type, and Identity unless it is null.</summary>
        /// <remarks>libzmq sends an (empty) Identity from a DEALER and none from a SUB; we do the same.</remarks>
        public static byte[] Ready(string socketType, byte[] identity)
        {
            var body = new List<byte>();
            body.Add(5);
            body.AddRange(Encoding.ASCII.GetBytes("READY"));
            AddProperty(body, "Socket-Type", Encoding.ASCII.GetBytes(socketType));
            if (identity != null) AddProperty(body, "Identity", identity);
            var bytes = body.ToArray();
            return Frame(bytes, 0, bytes.Length, false, true);
        }

        /// <summary>A ZMTP 3.0 subscription: a message whose body is 1 then the topic prefix.</summary>
        public static byte[] Subscribe(string topic)
        {
            var t = Encoding.UTF8.GetBytes(topic);
            var body = new byte[t.Length + 1];
            body[0] = 1;
            Buffer.BlockCopy(t, 0, body, 1, t.Length);
            return Frame(body, 0, body.Length, false, false);
        }

        /// <summary>One frame: flags, a 1-byte or 8-byte big-endian size, the body.</summary>
        public static byte[] Frame(byte[] body, int offset, int count, bool more, bool command = false)
        {
            var frame = new byte[HeaderLength(count) + count];
            int header = WriteHeader(frame, 0, count, more, command);
            Buffer.BlockCopy(body, offset, frame, header, count);
            return frame;
        }

        internal static int HeaderLength(int count) { return count <= 255 ? 2 : 9; }

        internal static int WriteHeader(byte[] into, int at, int count, bool more, bool command)
        {
            byte flags = (byte)((more ? More : 0) | (command ? Command : 0));
            if (count <= 255)
            {
                into[at] = flags;
                into[at + 1] = (byte)count;
                return 2;
            }
            into[at] = (byte)(flags | Long);
            ulong n = (ulong)count;
            for (int k = 0; k < 8; k++) into[at + 1 + k] = (byte)(n >> (8 * (7 - k)));
            return 9;
        }

        static void AddProperty(List<byte> body, string name, byte[] value)
        {
            body.Add((byte)name.Length);
            body.AddRange(Encoding.ASCII.GetBytes(name));
            uint n = (uint)value.Length;
            body.Add((byte)(n >> 24));
            body.Add((byte)(n >> 16));
            body.Add((byte)(n >> 8));
            body.Add((byte)n);
            body.AddRange(value);
        }

        /// <summary>Parses "tcp://host:port" (host a name, an IPv4 address or [IPv6]).</summary>
        public static void ParseEndpoint(string endpoint, out string host, out int port)
        {
            const string scheme = "tcp://";
            if (endpoint == null || !endpoint.StartsWith(scheme, StringComparison.Ordinal))
                throw new ArgumentException("endpoint must look like tcp://127.0.0.1:5555, got " + endpoint);
            string rest = endpoint.Substring(scheme.Length);
            int colon = rest.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(rest.Substring(colon + 1), out port) || port <= 0 || port > 65535)
                throw new ArgumentException("endpoint must end with :PORT (1..65535), got " + endpoint);
            host = rest.Substring(0, colon).Trim('[', ']');
        }
    }

    /// <summary>The peer broke the ZMTP rules or refused us (mechanism, socket type, ERROR command).</summary>
    public sealed class ZmtpException : Exception
    {
        public ZmtpException(string message) : base(message) { }
    }

    /// <summary>One connected ZMTP 3.0 NULL session over TCP.</summary>
    /// <remarks>
    /// Sends are serialised by a lock, so any thread may send; only one thread may receive.
    /// A send blocks at most <c>sendTimeoutMs</c> (only when the peer stopped reading
    /// megabytes ago); after any socket error the connection is unusable and is closed.
    /// </remarks>
    public sealed class ZmtpConnection : IDisposable
    {
        readonly Socket socket;
        readonly object sendLock = new object();
        byte[] sendBuffer = new byte[4096];
        readonly byte[] readBuffer = new byte[65536];
        readonly byte[] header = new byte[9]; // only the receiving thread reads
        int readStart, readEnd;
        readonly int maxMessageBytes;
        volatile bool closed;

        /// <summary>Connects and completes the handshake; throws SocketException or ZmtpException.</summary>
        /// <param name="socketType">Ours: "DEALER" or "SUB".</param>
        /// <param name="peerType">The type the peer must announce: "ROUTER" or "PUB".</param>
        public static ZmtpConnection Open(string endpoint, string socketType, string peerType, int timeoutMs,
                                          int maxMessageBytes = 16 << 20)
        {
            string host;
            int port;
            Zmtp.ParseEndpoint(endpoint, out host, out port);
            IPAddress address;
            if (!IPAddress.TryParse(host, out address)) address = Dns.GetHostAddresses(host)[0];
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.NoDelay = true;
                Connect(socket, new IPEndPoint(address, port), timeoutMs);
                socket.SendTimeout = timeoutMs;
                socket.ReceiveTimeout = timeoutMs;
                var connection = new ZmtpConnection(socket, maxMessageBytes);
                connection.Handshake(socketType, peerType);
                return connection;
            }
            catch
            {
                socket.Close();
                throw;
            }
        }

        /// <summary>A connect with a timeout, on this thread: non-blocking connect, then wait until writable.</summary>
        /// <remarks>BeginConnect would do it too, but Mono's first use of it waits for the thread pool (~0.4 s).</remarks>
        static void Connect(Socket socket, IPEndPoint endpoint, int timeoutMs)
        {
            socket.Blocking = false;
            try
            {
                socket.Connect(endpoint);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.WouldBlock ||
                                            e.SocketErrorCode == SocketError.InProgress)
            {
                bool done = socket.Poll(timeoutMs * 1000, SelectMode.SelectWrite);
                var error = (SocketError)(int)socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error);
                if (error != SocketError.Success) throw new SocketException((int)error);
                if (!done) throw new SocketException((int)SocketError.TimedOut);
            }
            socket.Blocking = true;
        }

        ZmtpConnection(Socket socket, int maxMessageBytes)
        {
            this.socket = socket;
            this.maxMessageBytes = maxMessageBytes;
        }

        public bool IsClosed { get { return closed; } }

        void Handshake(string socketType, string peerType)
        {
            // The greeting in two parts (RFC 23): signature and major version first, so that libzmq
            // sends all of its own; the rest only after its mechanism is known to be ours. A CURVE
            // server closes the connection as soon as it reads "NULL", before we could read why.
            var ours = Zmtp.Greeting();
            lock (sendLock) SendLocked(ours, 11);
            var greeting = new byte[Zmtp.GreetingLength];
            ReadExact(greeting, 0, 10);
            if (greeting[0] != 0xff || greeting[9] != 0x7f)
                throw new ZmtpException("the peer is not a ZeroMQ socket (no ZMTP signature)");
            ReadExact(greeting, 10, Zmtp.GreetingLength - 10);
            if (greeting[10] < 3)
                throw new ZmtpException("the peer speaks ZMTP " + greeting[10] + "." + greeting[11] + "; 3.0 or later is needed");
            string mechanism = Encoding.ASCII.GetString(greeting, 12, 20).TrimEnd('\0');
            if (mechanism != "NULL")
                throw new ZmtpException("the server uses the " + mechanism + " security mechanism; this client speaks " +
                                        "NULL only (reach a CURVE server through an SSH tunnel, see bridge/README.md)");
            var rest = new byte[Zmtp.GreetingLength - 11];
            Buffer.BlockCopy(ours, 11, rest, 0, rest.Length);
            SendRaw(rest);
            SendRaw(Zmtp.Ready(socketType, socketType == "DEALER" ? new byte[0] : null));
            bool command;
            byte[] ready = ReadFrame(out command, out _);
            string name = CommandName(ready);
            if (!command || name != "READY")
                throw new ZmtpException(name == "ERROR" ? "the server refused the connection: " + ErrorReason(ready)
                                                        : "the server sent no READY command");
            string theirs = Property(ready, "Socket-Type");
            if (theirs != peerType)
                throw new ZmtpException("the peer is a " + theirs + " socket; a " + socketType + " needs a " + peerType);
        }

        /// <summary>Sends one message of one or more frames, atomically with respect to other senders.</summary>
        public void Send(params ArraySegment<byte>[] frames)
        {
            lock (sendLock)
            {
                int total = 0;
                foreach (var f in frames) total += Zmtp.HeaderLength(f.Count) + f.Count;
                if (sendBuffer.Length < total) sendBuffer = new byte[Math.Max(total, sendBuffer.Length * 2)];
                int at = 0;
                for (int k = 0; k < frames.Length; k++)
                {
                    var f = frames[k];
                    at += Zmtp.WriteHeader(sendBuffer, at, f.Count, k < frames.Length - 1, false);
                    Buffer.BlockCopy(f.Array, f.Offset, sendBuffer, at, f.Count);
                    at += f.Count;
                }
                SendLocked(sendBuffer, total);
            }
        }

        /// <summary>Sends bytes that are already ZMTP frames (a subscription, a greeting).</summary>
        public void SendRaw(byte[] bytes)
        {
            lock (sendLock) SendLocked(bytes, bytes.Length);
        }

        void SendLocked(byte[] bytes, int count)
        {
            try
            {
                int sent = 0;
                while (sent < count) sent += socket.Send(bytes, sent, count - sent, SocketFlags.None);
            }
            catch
            {
                Dispose(); // part of a frame may be out: the stream is unusable
                throw;
            }
        }

        /// <summary>True when a frame's bytes are waiting (buffered or on the socket), after at most waitMicroseconds.</summary>
        public bool Poll(int waitMicroseconds)
        {
            if (readEnd > readStart) return true;
            return socket.Poll(waitMicroseconds, SelectMode.SelectRead);
        }

        /// <summary>Reads one message (its frames); commands in between are handled or skipped.</summary>
        public List<byte[]> ReceiveMessage()
        {
            var frames = new List<byte[]>(2);
            while (true)
            {
                bool command, more;
                byte[] body = ReadFrame(out command, out more);
                if (command)
                {
                    if (CommandName(body) == "ERROR")
                        throw new ZmtpException("the server closed the session: " + ErrorReason(body));
                    continue; // 3.0 has no other command after READY; ignore what we do not know
                }
                frames.Add(body);
                if (!more) return frames;
            }
        }

        byte[] ReadFrame(out bool command, out bool more)
        {
            ReadExact(header, 0, 2);
            byte flags = header[0];
            more = (flags & 0x01) != 0;
            command = (flags & 0x04) != 0;
            ulong size = header[1];
            if ((flags & 0x02) != 0)
            {
                ReadExact(header, 2, 7);
                size = 0;
                for (int k = 1; k < 9; k++) size = (size << 8) | header[k];
            }
            if (size > (ulong)maxMessageBytes)
                throw new ZmtpException("a frame of " + size + " bytes is over the limit of " + maxMessageBytes);
            var body = new byte[(int)size];
            ReadExact(body, 0, body.Length);
            return body;
        }

        void ReadExact(byte[] into, int offset, int count)
        {
            while (count > 0)
            {
                if (readEnd == readStart)
                {
                    readStart = 0;
                    readEnd = socket.Receive(readBuffer, 0, readBuffer.Length, SocketFlags.None);
                    if (readEnd == 0) throw new SocketException((int)SocketError.ConnectionReset);
                }
                int n = Math.Min(count, readEnd - readStart);
                Buffer.BlockCopy(readBuffer, readStart, into, offset, n);
                readStart += n;
                offset += n;
                count -= n;
            }
        }

        static string CommandName(byte[] body)
        {
            if (body.Length < 1 || body[0] + 1 > body.Length) return "";
            return Encoding.ASCII.GetString(body, 1, body[0]);
        }

        static string ErrorReason(byte[] body)
        {
            int at = 1 + body[0];
            if (at >= body.Length) return "(no reason)";
            int n = Math.Min(body[at], body.Length - at - 1);
            return Encoding.ASCII.GetString(body, at + 1, n);
        }

        /// <summary>The value of a READY property, or null.</summary>
        static string Property(byte[] ready, string wanted)
        {
            int at = 1 + ready[0];
            while (at < ready.Length)
            {
                int nameLength = ready[at];
                if (at + 1 + nameLength + 4 > ready.Length) break;
                string name = Encoding.ASCII.GetString(ready, at + 1, nameLength);
                at += 1 + nameLength;
                int valueLength = (ready[at] << 24) | (ready[at + 1] << 16) | (ready[at + 2] << 8) | ready[at + 3];
                at += 4;
                if (valueLength < 0 || at + valueLength > ready.Length) break;
                if (string.Equals(name, wanted, StringComparison.OrdinalIgnoreCase))
                    return Encoding.ASCII.GetString(ready, at, valueLength);
                at += valueLength;
            }
            return null;
        }

        /// <summary>Closes the socket at once (no linger); never blocks.</summary>
        public void Dispose()
        {
            if (closed) return;
            closed = true;
            try { socket.LingerState = new LingerOption(true, 0); } catch (Exception) { }
            socket.Close();
        }
    }
}
