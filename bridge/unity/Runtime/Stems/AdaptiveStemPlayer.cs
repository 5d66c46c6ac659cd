// Plays an adaptive-music stems build in Unity: each mood's layers loop together,
// mood changes go through the rendered transition from the playing loop's next bar
// line, all scheduled sample-accurately with AudioSource.PlayScheduled on
// AudioSettings.dspTime; layer volumes follow Intensity. The timing comes from
// StemSchedule (plain C#, tested without Unity); this file only drives AudioSources.
#if UNITY_5_3_OR_NEWER
using System.Collections.Generic;
using UnityEngine;

namespace AdaptiveMusicUnity.Stems
{
    public sealed class AdaptiveStemPlayer : MonoBehaviour
    {
        [Tooltip("Folder under a Resources folder holding the build (manifest.json and its audio).")]
        public string resourceFolder = "music";
        [Tooltip("Mood to start with; empty for the manifest's first.")]
        public string startMood = "";
        [Range(0f, 1f)] public float intensity = 1f;
        public float layerFadeSeconds = 0.5f;
        [Tooltip("Seconds ahead of the audio clock that clips are scheduled (Unity's docs use 0.1 to 1).")]
        public double scheduleAhead = 0.2;

        sealed class Bank
        {
            public StemMood Mood;
            public List<AudioSource> Sources = new List<AudioSource>();
            public double EndsAt = double.MaxValue;
        }

        StemManifest manifest;
        StemSchedule schedule;
        readonly List<Bank> banks = new List<Bank>();
        readonly List<AudioSource> oneShots = new List<AudioSource>();

        public string Mood { get { return schedule == null ? null : schedule.Mood; } }

        void Awake()
        {
            var text = Resources.Load<TextAsset>(resourceFolder + "/manifest");
            if (text == null) throw new MissingReferenceException("no manifest.json under Resources/" + resourceFolder);
            manifest = StemManifest.Parse(text.text);
        }

        void Start()
        {
            string mood = string.IsNullOrEmpty(startMood) ? manifest.Moods[0].Name : startMood;
            double at = AudioSettings.dspTime + scheduleAhead;
            schedule = new StemSchedule(manifest, mood, at);
            StartLoop(manifest.Mood(mood), at);
        }

        /// <summary>Move to <paramref name="mood"/> through its transition, from the next bar line.</summary>
        public void SetMood(string mood)
        {
            if (mood == schedule.Mood) return;
            PlannedChange plan = schedule.Change(mood, AudioSettings.dspTime, scheduleAhead);
            foreach (var bank in banks)
            {
                if (bank.EndsAt <= plan.TransitionStart) continue;
                bank.EndsAt = plan.TransitionStart;
                foreach (var source in bank.Sources) source.SetScheduledEndTime(plan.TransitionStart);
            }
            if (plan.TransitionFile != null) Schedule(plan.TransitionFile, plan.TransitionStart);
            StartLoop(manifest.Mood(mood), plan.LoopStart);
        }

        /// <summary>Play a stinger of the current mood from its next beat.</summary>
        public void PlayStinger(string name)
        {
            string file;
            if (!manifest.Mood(schedule.Mood).Stingers.TryGetValue(name, out file)) return;
            Schedule(file, schedule.NextBeat(AudioSettings.dspTime + scheduleAhead));
        }

        void StartLoop(StemMood mood, double at)
        {
            var bank = new Bank { Mood = mood };
            foreach (var layer in mood.Layers)
            {
                var source = NewSource(layer.File);
                source.loop = true;  // a loop is the whole clip: LOOPSTART 0, LOOPLENGTH its length
                source.volume = StemSchedule.LayerVolume(layer, intensity);
                source.PlayScheduled(at);
                bank.Sources.Add(source);
            }
            banks.Add(bank);
        }

        void Schedule(string file, double at)
        {
            var source = NewSource(file);
            source.PlayScheduled(at);
            oneShots.Add(source);
        }

        AudioSource NewSource(string file)
        {
            string path = resourceFolder + "/" + System.IO.Path.ChangeExtension(file, null);
            var clip = Resources.Load<AudioClip>(path);
            if (clip == null) throw new MissingReferenceException("no audio clip at Resources/" + path);
            var source = gameObject.AddComponent<AudioSource>();
            source.playOnAwake = false;
            source.clip = clip;
            return source;
        }

        void Update()
        {
            double now = AudioSettings.dspTime;
            float step = layerFadeSeconds > 0 ? Time.unscaledDeltaTime / layerFadeSeconds : 1f;
            for (int b = banks.Count - 1; b >= 0; b--)
            {
                var bank = banks[b];
                if (now > bank.EndsAt + 1.0)
                {
                    foreach (var source in bank.Sources) Destroy(source);
                    banks.RemoveAt(b);
                    continue;
                }
                for (int i = 0; i < bank.Sources.Count; i++)
                {
                    float target = StemSchedule.LayerVolume(bank.Mood.Layers[i], intensity);
                    bank.Sources[i].volume = Mathf.MoveTowards(bank.Sources[i].volume, target, step);
                }
            }
            for (int i = oneShots.Count - 1; i >= 0; i--)
            {
                if (oneShots[i].isPlaying || oneShots[i].time > 0f || now < 1.0) continue;
                Destroy(oneShots[i]);
                oneShots.RemoveAt(i);
            }
        }
    }
}
#endif
