// Plays the music through an AudioSource, so it goes through Unity's mixer (volume,
// ducking, effects, pause). Needs a server started with `adaptive-music serve --output engine`.
using AdaptiveMusicBridge;
using UnityEngine;

namespace AdaptiveMusicUnity
{
    /// <summary>Pulls the server's PCM (EngineAudio) and outputs it from OnAudioFilterRead.</summary>
    /// <remarks>The AudioSource has no clip: its filter callback is the generator. The callback
    /// only copies from EngineAudio's ring: no allocation, no lock, no wait.</remarks>
    [RequireComponent(typeof(AudioSource))]
    [AddComponentMenu("Audio/Adaptive Music Audio")]
    public sealed class AdaptiveMusicAudio : MonoBehaviour
    {
        [Tooltip("The AdaptiveMusic component whose server to pull from (default: the one on this GameObject).")]
        public AdaptiveMusic music;

        [Tooltip("Frames per audio_pull (the local buffer is Unity's DSP buffer plus two pulls).")]
        [Range(256, 8192)]
        public int pullFrames = 1024;

        EngineAudio stream; // read by the audio thread
        MusicSession owner;  // the session the stream belongs to

        /// <summary>The stream (null until started): Underruns, Position, State, LastError.</summary>
        public EngineAudio Stream { get { return stream; } }

        void OnEnable()
        {
            if (music == null) music = GetComponent<AdaptiveMusic>();
            var source = GetComponent<AudioSource>();
            source.clip = null; // no clip: OnAudioFilterRead is the generator
            source.Play();
        }

        void Update()
        {
            // Follows the AdaptiveMusic component's session, which exists while that component is enabled.
            var session = music != null ? music.Session : null;
            if (session == owner) return;
            owner = session;
            stream = null;
            if (session == null) return;
            int bufferLength, numBuffers;
            AudioSettings.GetDSPBufferSize(out bufferLength, out numBuffers);
            int channels = AudioSettings.speakerMode == AudioSpeakerMode.Mono ? 1 : 2;
            stream = session.StartEngineAudio(AudioSettings.outputSampleRate, channels, bufferLength, pullFrames);
        }

        void OnDisable()
        {
            stream = null;
            if (owner != null) owner.StopEngineAudio();
            owner = null;
        }

        void OnAudioFilterRead(float[] data, int channels)
        {
            var s = stream;
            if (s != null) s.ReadInterleaved(data, channels);
        }
    }
}
