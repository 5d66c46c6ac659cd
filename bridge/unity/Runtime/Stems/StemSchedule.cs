// When each clip of a stems build starts, on the audio clock (seconds, like
// AudioSettings.dspTime): plain C#, so it is compiled and tested without Unity.
using System;

namespace AdaptiveMusicUnity.Stems
{
    /// <summary>A planned mood change: the transition clip (null if the build has none for
    /// the pair) starts on the playing loop's next bar line, and the new loop when it ends.</summary>
    public struct PlannedChange
    {
        public string From;
        public string To;
        public string TransitionFile;
        public double TransitionStart;
        public double LoopStart;
    }

    public sealed class StemSchedule
    {
        readonly StemManifest manifest;

        /// <summary>The mood whose loop is playing (or scheduled to play next).</summary>
        public string Mood { get; private set; }
        /// <summary>Audio-clock time at which that loop's first pass starts.</summary>
        public double LoopStart { get; private set; }

        public StemSchedule(StemManifest manifest, string mood, double loopStart)
        {
            this.manifest = manifest;
            manifest.Mood(mood);
            Mood = mood;
            LoopStart = loopStart;
        }

        double Seconds(long samples) { return (double)samples / manifest.SampleRate; }

        /// <summary>The first bar line of the playing loop at or after <paramref name="time"/>.</summary>
        public double NextBarLine(double time)
        {
            if (time <= LoopStart) return LoopStart;
            double bar = Seconds(manifest.Mood(Mood).BarSamples);
            long bars = (long)Math.Ceiling((time - LoopStart) / bar - 1e-9);
            return LoopStart + bars * bar;
        }

        /// <summary>The first beat of the playing loop at or after <paramref name="time"/> (for stingers).</summary>
        public double NextBeat(double time)
        {
            var mood = manifest.Mood(Mood);
            if (time <= LoopStart) return LoopStart;
            double beat = Seconds(mood.BarSamples) / mood.BeatsPerBar;
            return LoopStart + Math.Ceiling((time - LoopStart) / beat - 1e-9) * beat;
        }

        /// <summary>Plan a change to <paramref name="to"/> asked for at <paramref name="now"/>,
        /// no sooner than <paramref name="lead"/> seconds ahead (PlayScheduled needs time to load),
        /// and make the new loop the playing one.</summary>
        public PlannedChange Change(string to, double now, double lead)
        {
            manifest.Mood(to);
            var plan = new PlannedChange { From = Mood, To = to, TransitionStart = NextBarLine(now + lead) };
            var t = manifest.Transition(Mood, to);
            plan.TransitionFile = t == null ? null : t.File;
            plan.LoopStart = plan.TransitionStart + (t == null ? 0 : Seconds(t.Samples));
            Mood = to;
            LoopStart = plan.LoopStart;
            return plan;
        }

        /// <summary>1 where the layer plays at this intensity, else 0.</summary>
        public static float LayerVolume(StemLayer layer, float intensity)
        {
            return intensity + 1e-6f >= layer.EntersAt ? 1f : 0f;
        }
    }
}
