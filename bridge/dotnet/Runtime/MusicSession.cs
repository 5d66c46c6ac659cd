// What an engine component does with the client, kept here (tested under mono) so the
// Unity and Godot scripts stay thin: fire-and-forget commands whose failures become error
// callbacks, the game's mood and intensity restored after a reconnect, and events handed
// to the main thread, in engine-output mode only once the engine has played up to them.
using System;
using System.Collections.Generic;
using System.Threading.Tasks;

namespace AdaptiveMusicBridge
{
    /// <summary>The music of one game: a client, optional engine audio, and main-thread callbacks.</summary>
    /// <remarks>
    /// Call <see cref="Update"/> once per frame on the engine's main thread: every callback
    /// runs inside it. Commands return at once; their failures arrive as <see cref="Error"/>.
    /// A session belongs to the main thread; <see cref="Client"/> may be used from any thread.
    /// </remarks>
    public sealed class MusicSession : IDisposable
    {
        string mood;
        Quantize? moodQuantize;
        double? moodRamp, intensity;
        bool paused;

        public BridgeClient Client { get; private set; }

        /// <summary>The engine-output stream, or null when the server plays on its own device.</summary>
        public EngineAudio Audio { get; private set; }

        public event Action<BeatEvent> Beat;
        public event Action<BeatEvent> Bar;
        public event Action<MoodEvent> Mood;
        public event Action<StatusReply> Status;
        public event Action<ErrorEvent> Error;
        public event Action<ConnectionEvent> Connection;

        public MusicSession(string commands, string events, int timeoutMs = 2000, ConnectionSettings settings = null)
        {
            Client = new BridgeClient(commands, events, timeoutMs, null, settings);
        }

        /// <summary>Starts pulling the music into the engine (server started with `--output engine`).</summary>
        public EngineAudio StartEngineAudio(int sampleRate, int channels, int engineBufferFrames, int pullFrames = 1024)
        {
            if (Audio == null)
                Audio = new EngineAudio(Client.Commands.Endpoint, sampleRate, channels, engineBufferFrames, pullFrames);
            return Audio;
        }

        /// <summary>Stops pulling (the engine's audio component was disabled); returns at once.</summary>
        public void StopEngineAudio()
        {
            if (Audio == null) return;
            Audio.Dispose();
            Audio = null;
        }

        /// <summary>set_mood; remembered and sent again after a reconnect (a restarted server starts afresh).</summary>
        public Task SetMood(string text, Quantize? quantize = null, double? ramp = null)
        {
            mood = text;
            moodQuantize = quantize;
            moodRamp = ramp;
            return Client.IsConnected ? Report(Client.SetMoodAsync(text, quantize, ramp), "set_mood") : Done;
        }

        /// <summary>set_param intensity in [0, 1]; remembered like the mood.</summary>
        public Task SetIntensity(double value)
        {
            intensity = value;
            return Client.IsConnected ? Report(Client.SetIntensityAsync(value), "set_param") : Done;
        }

        public Task SendEvent(string name, IDictionary<string, object> parameters = null)
        {
            return Report(Client.SendEventAsync(name, parameters), "event " + name);
        }

        public Task Stinger(string name) { return Report(Client.StingerAsync(name), "stinger " + name); }

        public Task Pause()
        {
            paused = true;
            return Report(Client.PauseAsync(), "pause");
        }

        public Task Resume()
        {
            paused = false;
            return Report(Client.ResumeAsync(), "resume");
        }

        /// <summary>Runs the callbacks of up to maxEvents queued events; call once per frame on the main thread.</summary>
        /// <returns>How many events were handled.</returns>
        public int Update(int maxEvents = 256)
        {
            int handled = 0;
            BridgeEvent e;
            while (handled < maxEvents && Client.Events.TryPeek(out e))
            {
                if (NotPlayedYet(e)) break; // events are in stream order: the rest are later still
                Client.Events.TryTake(out e);
                handled++;
                Dispatch(e);
            }
            return handled;
        }

        /// <summary>In engine output, a beat, bar or mood event waits until the engine has read its sample.</summary>
        bool NotPlayedYet(BridgeEvent e)
        {
            if (Audio == null || Audio.State != EngineAudioState.Streaming) return false;
            if (!(e is BeatEvent || e is MoodEvent)) return false;
            long? sample = e.Sample;
            return sample.HasValue && sample.Value >= Audio.Position;
        }

        void Dispatch(BridgeEvent e)
        {
            var beat = e as BeatEvent;
            if (beat != null) Invoke(beat.IsBar ? Bar : Beat, beat);
            else if (e is MoodEvent) Invoke(Mood, (MoodEvent)e);
            else if (e is StatusEvent) Invoke(Status, ((StatusEvent)e).Status);
            else if (e is ErrorEvent) Invoke(Error, (ErrorEvent)e);
            else if (e is ConnectionEvent)
            {
                var c = (ConnectionEvent)e;
                if (c.Connected && c.Channel == "commands") Restore();
                Invoke(Connection, c);
            }
        }

        /// <summary>Sends the game's mood, intensity and pause state to a server that just (re)connected.</summary>
        void Restore()
        {
            if (mood != null) Report(Client.SetMoodAsync(mood, moodQuantize ?? Quantize.Now, moodRamp), "set_mood");
            if (intensity.HasValue) Report(Client.SetIntensityAsync(intensity.Value), "set_param");
            if (paused) Report(Client.PauseAsync(), "pause");
        }

        static readonly Task Done = Task.FromResult(true);

        /// <summary>Turns a failed command into an ErrorEvent on the main thread.</summary>
        Task Report(Task task, string what)
        {
            var events = Client.Events;
            return task.ContinueWith(t =>
            {
                if (!t.IsFaulted) return;
                var error = t.Exception.InnerException;
                var bridge = error as BridgeException;
                events.Add(new ErrorEvent(bridge != null ? bridge.Code : "internal", what + ": " + error.Message));
            }, TaskContinuationOptions.ExecuteSynchronously);
        }

        static void Invoke<T>(Action<T> handler, T e)
        {
            if (handler != null) handler(e);
        }

        /// <summary>Closes every connection; returns at once (nothing waits for the server).</summary>
        public void Dispose()
        {
            if (Audio != null) Audio.Dispose();
            Client.Dispose();
        }
    }
}
