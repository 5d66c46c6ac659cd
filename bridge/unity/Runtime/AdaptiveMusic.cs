// The component a Unity game talks to. Thin on purpose: the logic is MusicSession in the
// tested core (bridge/dotnet); this file maps it to the inspector and to UnityEvents.
using System;
using System.Collections.Generic;
using AdaptiveMusicBridge;
using UnityEngine;
using UnityEngine.Events;

namespace AdaptiveMusicUnity
{
    /// <summary>Bar and beat (from 0) of a beat or bar event.</summary>
    [Serializable] public class BeatUnityEvent : UnityEvent<int, int> { }

    /// <summary>Phase ("start" or "end") and mood text of a mood event.</summary>
    [Serializable] public class MoodUnityEvent : UnityEvent<string, string> { }

    /// <summary>Error code and message.</summary>
    [Serializable] public class ErrorUnityEvent : UnityEvent<string, string> { }

    /// <summary>Connects to `adaptive-music serve` and raises the music's events on the main thread.</summary>
    [AddComponentMenu("Audio/Adaptive Music")]
    public sealed class AdaptiveMusic : MonoBehaviour
    {
        [Tooltip("The server's command socket (serve --commands).")]
        public string commandsAddress = "tcp://127.0.0.1:5555";

        [Tooltip("The server's event socket (serve --events).")]
        public string eventsAddress = "tcp://127.0.0.1:5556";

        [Tooltip("How long a command waits for its reply, in milliseconds.")]
        public int timeoutMs = 2000;

        [Tooltip("Mood sent when the component starts (and again after a reconnect); empty for the server's own.")]
        public string startMood = "";

        [Tooltip("Log failed commands and lost connections to the console.")]
        public bool logErrors = true;

        public BeatUnityEvent onBeat = new BeatUnityEvent();
        public BeatUnityEvent onBar = new BeatUnityEvent();
        public MoodUnityEvent onMood = new MoodUnityEvent();
        public ErrorUnityEvent onError = new ErrorUnityEvent();

        /// <summary>The session behind the component (null while disabled), for what the inspector does not cover.</summary>
        public MusicSession Session { get; private set; }

        /// <summary>The server's last status event (null before the first).</summary>
        public StatusReply LastStatus { get; private set; }

        void OnEnable()
        {
            Session = new MusicSession(commandsAddress, eventsAddress, timeoutMs);
            Session.Beat += b => onBeat.Invoke(b.Bar, b.Beat);
            Session.Bar += b => onBar.Invoke(b.Bar, b.Beat);
            Session.Mood += m => onMood.Invoke(m.Phase, m.Text);
            Session.Status += s => LastStatus = s;
            Session.Error += e =>
            {
                if (logErrors) Debug.LogWarning("Adaptive Music: " + e.Code + ": " + e.Message);
                onError.Invoke(e.Code, e.Message);
            };
            Session.Connection += c =>
            {
                if (logErrors && !c.Connected) Debug.LogWarning("Adaptive Music: lost " + c.Channel + ": " + c.Reason);
            };
            if (!string.IsNullOrEmpty(startMood)) Session.SetMood(startMood);
        }

        void Update()
        {
            if (Session != null) Session.Update();
        }

        void OnDisable()
        {
            // Returns at once: sockets close, background threads end by themselves.
            if (Session != null) Session.Dispose();
            Session = null;
        }

        public void SetMood(string text) { SetMood(text, Quantize.Now, -1f); }

        /// <param name="ramp">Crossfade in seconds; negative for the server's default.</param>
        public void SetMood(string text, Quantize quantize, float ramp)
        {
            if (Session != null) Session.SetMood(text, quantize, ramp < 0 ? (double?)null : ramp);
        }

        public void SendEvent(string gameEvent)
        {
            if (Session != null) Session.SendEvent(gameEvent);
        }

        public void SendEvent(string gameEvent, IDictionary<string, object> parameters)
        {
            if (Session != null) Session.SendEvent(gameEvent, parameters);
        }

        public void SetIntensity(float value)
        {
            if (Session != null) Session.SetIntensity(value);
        }

        public void Stinger(string name)
        {
            if (Session != null) Session.Stinger(name);
        }

        public void Pause()
        {
            if (Session != null) Session.Pause();
        }

        public void Resume()
        {
            if (Session != null) Session.Resume();
        }
    }
}
