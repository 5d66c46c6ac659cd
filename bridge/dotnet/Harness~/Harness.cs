// Console harness: drives a real `adaptive-music serve` through the C# core and prints one
// JSON object of what it saw, for tests/test_bridge_csharp.py and bench/csharp_client.py.
//
//   mono harness.exe vectors DIR                  the shared test vectors
//   mono harness.exe session COMMANDS EVENTS      every request type, errors, events
//   mono harness.exe unreachable COMMANDS         calls to a server that is not there
//   mono harness.exe mismatch COMMANDS            a server speaking another protocol version
//   mono harness.exe restart COMMANDS EVENTS      survive a restart (stdin: "restarted")
//   mono harness.exe audio COMMANDS EVENTS SECONDS RAW [MOOD]   pull PCM like an engine, write the stream to RAW
//   mono harness.exe bench COMMANDS N             status round trips (microseconds)
//   mono harness.exe timeout COMMANDS             a server that answers status late
//   mono harness.exe audio-restart COMMANDS EVENTS   engine audio through a restart (stdin: "restarted")
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;

namespace AdaptiveMusicBridge.Harness
{
    static class Program
    {
        static int Main(string[] args)
        {
            object result;
            switch (args[0])
            {
                case "vectors": result = Vectors.Check(args[1]); break;
                case "session": result = Session(args[1], args[2]); break;
                case "unreachable": result = Unreachable(args[1]); break;
                case "mismatch": result = Mismatch(args[1]); break;
                case "restart": result = Restart(args[1], args[2]); break;
                case "audio": result = Audio(args[1], args[2], double.Parse(args[3]), args[4], args.Length > 5 ? args[5] : null); break;
                case "bench": result = Bench(args[1], int.Parse(args[2])); break;
                case "timeout": result = Timeout(args[1]); break;
                case "audio-restart": result = AudioRestart(args[1], args[2]); break;
                default: Console.Error.WriteLine("unknown mode " + args[0]); return 2;
            }
            Console.WriteLine(Json.Write(result));
            return 0;
        }

        static T Get<T>(Task<T> task)
        {
            try
            {
                return task.Result;
            }
            catch (AggregateException e)
            {
                throw e.InnerException;
            }
        }

        static void Get(Task task)
        {
            try
            {
                task.Wait();
            }
            catch (AggregateException e)
            {
                throw e.InnerException;
            }
        }

        /// <summary>The error code a request fails with, or null if it succeeded.</summary>
        static string ErrorCode<T>(Task<T> task)
        {
            try
            {
                Get(task);
                return null;
            }
            catch (BridgeException e)
            {
                return e.Code;
            }
        }

        static void Require(bool condition, string what)
        {
            if (!condition) throw new Exception("harness: " + what);
        }

        static Dictionary<string, object> Session(string commands, string events)
        {
            var output = new Dictionary<string, object>();
            var seen = new Dictionary<string, object>();
            var moods = new List<object>();
            var errors = new List<object>();
            int beats = 0, bars = 0, statuses = 0;
            using (var music = new MusicSession(commands, events, 5000))
            {
                music.Beat += b => { beats++; if (!seen.ContainsKey("beat")) seen["beat"] = b.Fields; };
                music.Bar += b => { bars++; if (!seen.ContainsKey("bar")) seen["bar"] = b.Fields; };
                music.Mood += m => moods.Add(m.Fields);
                music.Status += s => { statuses++; seen["status"] = s.Fields; };
                music.Error += e => errors.Add(e.Fields);
                var client = music.Client;
                Require(client.Commands.WaitUntilConnected(10000), "no connection: " + client.Commands.LastError);
                Require(client.EventSocket.WaitUntilConnected(10000), "no events connection");
                Thread.Sleep(300); // the SUB's subscription reaches the PUB (slow joiner, PROTOCOL.md §4)

                var replies = new Dictionary<string, object>();
                var hello = Get(client.HelloAsync());
                replies["hello"] = hello.Fields;
                var mood = Get(client.SetMoodAsync("tense stealth, muted strings", Quantize.Now, 0.5));
                replies["set_mood"] = mood.Fields;
                var ev = Get(client.SendEventAsync(hello.Events[0]));
                replies["event"] = ev.Fields;
                replies["event_action"] = ev.Action;
                replies["set_param"] = Get(client.SetIntensityAsync(0.25)).Fields;
                string stinger = hello.Stingers.Length > 0 ? hello.Stingers[0] : "short chime";
                if (ErrorCode(client.StingerAsync(stinger)) == "rate_limited") Thread.Sleep(1100); // the event may have played one
                replies["stinger"] = Get(client.StingerAsync(stinger)).Fields;
                replies["pause"] = Get(client.PauseAsync()).Fields;
                replies["paused_status"] = Get(client.StatusAsync()).Fields;
                replies["resume"] = Get(client.ResumeAsync()).Fields;
                var status = Get(client.StatusAsync());
                replies["status"] = status.Fields;
                output["replies"] = replies;
                output["typed"] = new Dictionary<string, object>
                {
                    { "protocol", hello.Protocol }, { "backend", hello.Backend }, { "queued", mood.Queued },
                    { "intensity", status.Intensity }, { "paused", status.Paused }, { "mood", status.Mood },
                };

                // Pipelining: 200 requests in flight at once, each reply matched to its own request.
                var pipelined = Enumerable.Range(0, 200).Select(k => client.SetIntensityAsync(k / 1000.0)).ToArray();
                output["pipelined"] = pipelined.Count(t => (double)Get(t).Fields["value"] == Array.IndexOf(pipelined, t) / 1000.0);
                Get(client.SetIntensityAsync(0.25));

                output["errors"] = new Dictionary<string, object>
                {
                    { "unknown_type", ErrorCode(client.RequestAsync("teleport")) },
                    { "nan", ErrorCode(client.SetIntensityAsync(double.NaN)) },
                    { "out_of_range", ErrorCode(client.SetIntensityAsync(1.5)) },
                    { "missing_field", ErrorCode(client.RequestAsync("set_mood")) },
                    { "unknown_event", ErrorCode(client.SendEventAsync("no_such_event")) },
                    { "too_large", ErrorCode(client.SetMoodAsync(new string('x', 5000))) },
                    // A frame that is not msgpack: the reply carries id nil (PROTOCOL.md §5).
                    { "malformed", Field.String(Field.Map(Get(client.Commands.SendRaw(new byte[] { 0xc1, 0xff, 0x00 })).Fields, "error"), "code") },
                };
                output["status_after_errors"] = Get(client.StatusAsync()).Fields["ok"];

                // A fire-and-forget command that fails arrives as an Error callback on the main thread.
                music.SendEvent("no_such_event_either");
                var until = DateTime.UtcNow.AddSeconds(8);
                while (DateTime.UtcNow < until)
                {
                    music.Update();
                    bool mineEnded = moods.Cast<IDictionary<string, object>>()
                        .Any(m => (string)m["phase"] == "end" && (string)m["text"] == "tense stealth, muted strings");
                    if (mineEnded && bars > 0 && beats > 1 && statuses > 0 && errors.Count > 0) break;
                    Thread.Sleep(10);
                }
                seen["mood"] = moods;
                seen["error"] = errors;
                output["events"] = seen;
                output["counts"] = new Dictionary<string, object> { { "beat", beats }, { "bar", bars }, { "status", statuses } };
                output["stray_replies"] = client.Commands.StrayReplies;
                var watch = Stopwatch.StartNew();
                music.Dispose(); // connected, events flowing: must still return at once
                output["dispose_ms"] = watch.Elapsed.TotalMilliseconds;
                output["threads_end_ms"] = ThreadsEnd(watch, () => client.Commands.IsRunning, () => client.EventSocket.IsRunning);
            }
            return output;
        }

        /// <summary>Milliseconds on watch when none of the threads runs any more (-1: still running after 2 s).</summary>
        static double ThreadsEnd(Stopwatch watch, params Func<bool>[] running)
        {
            while (running.Any(r => r()))
            {
                if (watch.Elapsed.TotalSeconds > 2) return -1;
                Thread.Sleep(1);
            }
            return watch.Elapsed.TotalMilliseconds;
        }

        static Dictionary<string, object> Unreachable(string commands)
        {
            var settings = new ConnectionSettings { ReconnectMinMs = 20, ReconnectMaxMs = 100 };
            using (var client = new BridgeClient(commands, null, 2000, null, settings))
            {
                var until = DateTime.UtcNow.AddSeconds(5); // Mono's first socket takes ~0.2 s to make
                while (client.Commands.State != ChannelState.Disconnected && DateTime.UtcNow < until) Thread.Sleep(5);
                Get(client.StatusAsync().ContinueWith(t => t.IsFaulted)); // the first faulted task: JIT warm-up
                var watch = Stopwatch.StartNew();
                string code = null, message = null;
                try
                {
                    Get(client.SetMoodAsync("combat"));
                }
                catch (BridgeException e)
                {
                    code = e.Code;
                    message = e.Message;
                }
                double failMs = watch.Elapsed.TotalMilliseconds;
                watch.Restart();
                client.Dispose();
                return new Dictionary<string, object>
                {
                    { "code", code }, { "message", message }, { "fail_ms", failMs },
                    { "dispose_ms", watch.Elapsed.TotalMilliseconds }, { "state", client.Commands.State.ToString() },
                };
            }
        }

        static Dictionary<string, object> Mismatch(string commands)
        {
            using (var client = new BridgeClient(commands, null, 2000))
            {
                var until = DateTime.UtcNow.AddSeconds(10);
                while (client.Commands.State != ChannelState.VersionMismatch && DateTime.UtcNow < until) Thread.Sleep(5);
                return new Dictionary<string, object>
                {
                    { "state", client.Commands.State.ToString() },
                    { "call_error", ErrorCode(client.StatusAsync()) },
                    { "message", client.Commands.LastError },
                };
            }
        }

        const string RestoredMood = "tense stealth, muted strings";

        /// <summary>Connects, sets the game's state, then survives a restart announced on stdin.</summary>
        static Dictionary<string, object> Restart(string commands, string events)
        {
            var connections = new List<object>();
            using (var music = new MusicSession(commands, events, 2000)) // default back-off: 50 ms doubling to 250 ms
            {
                music.Connection += c => connections.Add(c.Fields);
                Require(music.Client.Commands.WaitUntilConnected(10000), "no connection");
                Get(music.SetMood(RestoredMood, Quantize.Now));
                Get(music.SetIntensity(0.8));
                Console.WriteLine("ready");
                Console.Out.Flush();
                string line = Console.ReadLine(); // "restarted": the new server listens
                var watch = Stopwatch.StartNew();
                double reconnectMs = -1, firstReplyMs = -1;
                StatusReply status = null;
                while (watch.Elapsed.TotalSeconds < 20)
                {
                    music.Update(); // restores mood and intensity when the connection comes back
                    if (reconnectMs < 0 && music.Client.IsConnected) reconnectMs = watch.Elapsed.TotalMilliseconds;
                    if (reconnectMs >= 0)
                    {
                        try
                        {
                            status = Get(music.Client.StatusAsync());
                            if (firstReplyMs < 0) firstReplyMs = watch.Elapsed.TotalMilliseconds;
                            if (status.Mood == RestoredMood && Math.Abs(status.Intensity - 0.8) < 1e-9) break;
                        }
                        catch (BridgeException) { }
                    }
                    Thread.Sleep(1);
                }
                music.Update();
                return new Dictionary<string, object>
                {
                    { "stdin", line }, { "reconnect_ms", reconnectMs }, { "first_reply_ms", firstReplyMs },
                    { "restored_ms", watch.Elapsed.TotalMilliseconds },
                    { "status", status == null ? null : status.Fields }, { "connections", connections },
                };
            }
        }

        /// <summary>An engine: an audio thread reads 1024 frames on its own clock, the main thread drains events.</summary>
        static Dictionary<string, object> Audio(string commands, string events, double seconds, string rawPath, string mood)
        {
            const int rate = 48000, channels = 2, callbackFrames = 1024;
            var beats = new List<object>();
            var late = new List<object>();
            using (var music = new MusicSession(commands, events, 5000))
            using (var raw = new BinaryWriter(File.Create(rawPath)))
            {
                var audio = music.StartEngineAudio(rate, channels, callbackFrames);
                music.Beat += b => { beats.Add(b.Sample); if (b.Sample >= audio.Position) late.Add(b.Sample); };
                var until = DateTime.UtcNow.AddSeconds(5);
                while (audio.State != EngineAudioState.Streaming && DateTime.UtcNow < until) Thread.Sleep(5);
                if (audio.State != EngineAudioState.Streaming)
                    return new Dictionary<string, object> { { "state", audio.State.ToString() }, { "error", audio.LastError } };
                if (mood != null) Get(music.Client.SetMoodAsync(mood, Quantize.Now));

                var buffer = new float[callbackFrames * channels];
                var bytes = new byte[buffer.Length * 4];
                long callbacks = (long)(seconds * rate / callbackFrames);
                var clock = Stopwatch.StartNew();
                var reads = new List<long>();
                long allocated = 0; // bytes allocated inside Read, the audio callback
                for (long k = 0; k < callbacks; k++)
                {
                    double due = (k + 1) * (double)callbackFrames / rate;
                    while (clock.Elapsed.TotalSeconds < due) Thread.Sleep(1);
                    reads.Add(audio.Position);
                    long before = GC.GetAllocatedBytesForCurrentThread();
                    int n = audio.Read(buffer, 0, buffer.Length);
                    allocated += GC.GetAllocatedBytesForCurrentThread() - before;
                    Buffer.BlockCopy(buffer, 0, bytes, 0, n * 4);
                    raw.Write(bytes, 0, n * 4); // the stream itself: an underrun's silence is not part of it
                    music.Update();
                }
                string state = audio.State.ToString();
                var stopping = Stopwatch.StartNew();
                music.StopEngineAudio(); // no pull after this one: the counts below are final (one may be in flight)
                double stopMs = stopping.Elapsed.TotalMilliseconds, threadsEndMs = ThreadsEnd(stopping, () => audio.IsRunning);
                var status = Get(music.Client.StatusAsync());
                return new Dictionary<string, object>
                {
                    { "callbacks", callbacks }, { "position", audio.Position }, { "first_position", reads[0] },
                    { "underruns", audio.Underruns }, { "underrun_frames", audio.UnderrunFrames },
                    { "discontinuities", audio.Discontinuities }, { "pulls", audio.Pulls },
                    { "beats", beats }, { "beats_before_played", late }, { "status", status.Fields },
                    { "hello_output", music.Client.Server.Output }, { "state", state },
                    { "stop_ms", stopMs }, { "threads_end_ms", threadsEndMs },
                    { "read_allocated_bytes", allocated },
                };
            }
        }

        /// <summary>Against a server that answers status after 600 ms: the call times out, the late reply is dropped.</summary>
        static Dictionary<string, object> Timeout(string commands)
        {
            using (var client = new BridgeClient(commands, null, 300))
            {
                Require(client.Commands.WaitUntilConnected(10000), "no connection: " + client.Commands.LastError);
                var watch = Stopwatch.StartNew();
                string code = ErrorCode(client.StatusAsync());
                double ms = watch.Elapsed.TotalMilliseconds;
                Thread.Sleep(700); // the late reply arrives
                return new Dictionary<string, object>
                {
                    { "code", code }, { "timeout_ms", ms }, { "stray_replies", client.Commands.StrayReplies },
                    { "hello_after", Get(client.HelloAsync()).Protocol },
                };
            }
        }

        /// <summary>An engine clock keeps reading while the server stops and starts again (stdin: "restarted").</summary>
        static Dictionary<string, object> AudioRestart(string commands, string events)
        {
            const int rate = 48000, channels = 2, callbackFrames = 1024;
            var beatsBeforePlayed = new List<object>();
            int beatsAfterRestart = 0;
            bool restarted = false;
            var outageErrors = new List<object>();
            using (var music = new MusicSession(commands, events, 2000))
            {
                var audio = music.StartEngineAudio(rate, channels, callbackFrames);
                music.Beat += b =>
                {
                    if (b.Sample >= audio.Position) beatsBeforePlayed.Add(b.Sample);
                    if (restarted) beatsAfterRestart++;
                };
                var until = DateTime.UtcNow.AddSeconds(10);
                while (audio.State != EngineAudioState.Streaming && DateTime.UtcNow < until) Thread.Sleep(5);
                Require(audio.State == EngineAudioState.Streaming, "audio never streamed: " + audio.LastError);
                Get(music.SetMood(RestoredMood, Quantize.Now));
                var stdin = new Thread(() => { Console.ReadLine(); restarted = true; }) { IsBackground = true };
                const int surround = 6; // a 5.1 mixer: the stereo music goes to its front pair
                var buffer = new float[callbackFrames * surround];
                long allocated = 0;
                var clock = Stopwatch.StartNew();
                long positionAtRestart = -1, underrunsAtRestart = 0;
                double restartedAt = -1;
                for (long k = 0; ; k++)
                {
                    double due = (k + 1) * (double)callbackFrames / rate;
                    while (clock.Elapsed.TotalSeconds < due) Thread.Sleep(1);
                    long before = GC.GetAllocatedBytesForCurrentThread();
                    audio.ReadInterleaved(buffer, surround);
                    allocated += GC.GetAllocatedBytesForCurrentThread() - before;
                    music.Update();
                    if (k == 50)
                    {
                        Console.WriteLine("ready");
                        Console.Out.Flush();
                        stdin.Start();
                    }
                    if (k > 50 && !restarted && audio.State != EngineAudioState.Streaming && outageErrors.Count < 3)
                        outageErrors.Add(audio.State + ": " + audio.LastError);
                    if (restarted && restartedAt < 0)
                    {
                        restartedAt = clock.Elapsed.TotalSeconds;
                        positionAtRestart = audio.Position;
                        underrunsAtRestart = audio.Underruns;
                    }
                    if (restartedAt >= 0 && clock.Elapsed.TotalSeconds > restartedAt + 3) break;
                }
                var status = Get(music.Client.StatusAsync());
                return new Dictionary<string, object>
                {
                    { "state", audio.State.ToString() }, { "underruns", audio.Underruns },
                    { "underruns_at_restart", underrunsAtRestart }, { "underruns_after_restart", audio.Underruns - underrunsAtRestart },
                    { "discontinuities", audio.Discontinuities }, { "position_at_restart", positionAtRestart },
                    { "position", audio.Position }, { "outage", outageErrors }, { "beats_after_restart", beatsAfterRestart },
                    { "beats_before_played", beatsBeforePlayed }, { "status", status.Fields },
                    { "read_allocated_bytes", allocated },
                    { "last_read_peak_by_channel", Enumerable.Range(0, surround).Select(
                        c => (double)Enumerable.Range(0, callbackFrames).Max(f => Math.Abs(buffer[f * surround + c]))).ToArray() },
                };
            }
        }

        static Dictionary<string, object> Bench(string commands, int n)
        {
            using (var client = new BridgeClient(commands, null, 5000))
            {
                Require(client.Commands.WaitUntilConnected(10000), "no connection");
                var times = new List<object>();
                for (int k = 0; k < 500 + n; k++)
                {
                    long start = Stopwatch.GetTimestamp();
                    Get(client.StatusAsync());
                    if (k >= 500) times.Add((Stopwatch.GetTimestamp() - start) * 1e6 / Stopwatch.Frequency);
                }
                return new Dictionary<string, object> { { "us", times } };
            }
        }
    }
}
