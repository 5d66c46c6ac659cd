// One ZMTP connection kept alive by a background thread: connect, run a session until
// the connection breaks, wait with exponential back-off, connect again.
using System;
using System.Net.Sockets;
using System.Threading;

namespace AdaptiveMusicBridge
{
    /// <summary>Connection settings shared by every channel of a client.</summary>
    public sealed class ConnectionSettings
    {
        /// <summary>How long one connect and handshake may take.</summary>
        public int ConnectTimeoutMs = 1000;
        /// <summary>First wait after a failed connect; it doubles on each failure up to ReconnectMaxMs.</summary>
        public int ReconnectMinMs = 50;
        public int ReconnectMaxMs = 250;
    }

    /// <summary>What a channel is doing now.</summary>
    public enum ChannelState { Connecting, Connected, Disconnected, VersionMismatch, Closed }

    /// <summary>A background thread that keeps one ZMTP connection up and runs a session on it.</summary>
    /// <remarks>The thread is a background thread and Dispose never waits for it: closing the
    /// socket ends the session, and a thread in its back-off wait is woken at once.</remarks>
    public abstract class ReconnectingChannel : IDisposable
    {
        /// <summary>The address this channel connects to.</summary>
        public string Endpoint { get; private set; }
        protected readonly ConnectionSettings Settings;
        readonly string socketType, peerType, name;
        readonly ManualResetEvent stop = new ManualResetEvent(false);
        readonly Thread thread;
        readonly object stateLock = new object();
        ZmtpConnection connection;
        volatile bool disposed;

        protected ReconnectingChannel(string name, string endpoint, string socketType, string peerType,
                                      ConnectionSettings settings)
        {
            Zmtp.ParseEndpoint(endpoint, out _, out _); // a malformed address fails here, in the caller
            this.name = name;
            Endpoint = endpoint;
            Settings = settings ?? new ConnectionSettings();
            this.socketType = socketType;
            this.peerType = peerType;
            State = ChannelState.Connecting;
            thread = new Thread(Run) { IsBackground = true, Name = "adaptive-music " + name };
        }

        /// <summary>Starts the thread (call once, from the subclass's constructor's caller).</summary>
        protected void Start() { thread.Start(); }

        public ChannelState State { get; private set; }

        /// <summary>Why the channel is not connected (null while connected).</summary>
        public string LastError { get; private set; }

        public bool IsDisposed { get { return disposed; } }

        /// <summary>Whether the channel's thread is still alive (it ends soon after Dispose).</summary>
        public bool IsRunning { get { return thread.IsAlive; } }

        /// <summary>Raised on the channel's thread when a session starts or ends.</summary>
        public event Action<ConnectionEvent> ConnectionChanged;

        /// <summary>Blocks the calling thread until connected, up to timeoutMs; for tools, not for a game's main thread.</summary>
        public bool WaitUntilConnected(int timeoutMs)
        {
            var until = DateTime.UtcNow.AddMilliseconds(timeoutMs);
            while (State != ChannelState.Connected)
            {
                if (disposed || DateTime.UtcNow >= until) return false;
                Thread.Sleep(2);
            }
            return true;
        }

        /// <summary>Runs on the channel's thread once per connection, after the ZMTP handshake:
        /// first setup (throw to refuse the connection), then, after OnConnected, the session until it breaks.</summary>
        protected abstract void Setup(ZmtpConnection connection);

        protected abstract void Session(ZmtpConnection connection);

        /// <summary>Called with the stateLock released after a connection ended, with the reason.</summary>
        protected virtual void OnDisconnected(string reason) { }

        /// <summary>The live connection or null; callers on other threads send on it (sends are locked).</summary>
        protected ZmtpConnection Connection { get { return connection; } }

        void Run()
        {
            int backoff = Settings.ReconnectMinMs;
            while (!disposed)
            {
                ZmtpConnection conn = null;
                bool connected = false;
                string reason;
                var mismatch = false;
                try
                {
                    conn = ZmtpConnection.Open(Endpoint, socketType, peerType, Settings.ConnectTimeoutMs);
                    lock (stateLock)
                    {
                        if (disposed) break;
                        connection = conn;
                    }
                    Setup(conn);
                    lock (stateLock)
                    {
                        State = ChannelState.Connected;
                        LastError = null;
                    }
                    connected = true;
                    backoff = Settings.ReconnectMinMs;
                    Raise(new ConnectionEvent(name, true, null));
                    Session(conn);
                    reason = "the session ended";
                }
                catch (BridgeException e) when (e.Code == BridgeException.VersionMismatch)
                {
                    reason = e.Message;
                    mismatch = true;
                }
                catch (Exception e)
                {
                    reason = Describe(e);
                }
                lock (stateLock)
                {
                    connection = null;
                    if (!disposed)
                    {
                        State = mismatch ? ChannelState.VersionMismatch : ChannelState.Disconnected;
                        LastError = Endpoint + ": " + reason;
                    }
                }
                if (conn != null) conn.Dispose();
                OnDisconnected(reason);
                if (connected && !disposed) Raise(new ConnectionEvent(name, false, reason));
                if (mismatch) backoff = Settings.ReconnectMaxMs; // retrying fast cannot help: the server must change
                if (stop.WaitOne(backoff)) break;
                backoff = Math.Min(backoff * 2, Settings.ReconnectMaxMs);
            }
        }

        void Raise(ConnectionEvent e)
        {
            var handler = ConnectionChanged;
            if (handler != null) handler(e);
        }

        static string Describe(Exception e)
        {
            var socket = e as SocketException;
            if (socket != null)
            {
                switch (socket.SocketErrorCode)
                {
                    case SocketError.ConnectionRefused: return "connection refused (is `adaptive-music serve` running?)";
                    case SocketError.TimedOut: return "timed out (a firewall, or the wrong host?)";
                    case SocketError.ConnectionReset: return "the server closed the connection";
                    default: return socket.SocketErrorCode + ": " + socket.Message;
                }
            }
            if (e is ObjectDisposedException) return "closed";
            return e.Message;
        }

        /// <summary>Stops the channel without waiting for its thread; safe to call from any thread, more than once.</summary>
        public virtual void Dispose()
        {
            ZmtpConnection conn;
            lock (stateLock)
            {
                if (disposed) return;
                disposed = true;
                State = ChannelState.Closed;
                LastError = "closed";
                conn = connection;
                connection = null;
            }
            stop.Set();
            if (conn != null) conn.Dispose();
        }
    }
}
