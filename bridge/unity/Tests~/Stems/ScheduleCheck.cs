// A console check of the plain-C# stems player logic (compiled with mcs, run with mono):
// parses a real manifest and prints the schedule, which tests/test_stems.py compares
// with the manifest. Usage: ScheduleCheck.exe MANIFEST FROM TO LOOP_START NOW LEAD INTENSITY
using System;
using System.Globalization;
using System.IO;
using AdaptiveMusicUnity.Stems;

static class ScheduleCheck
{
    static int Main(string[] args)
    {
        var ci = CultureInfo.InvariantCulture;
        var manifest = StemManifest.Parse(File.ReadAllText(args[0]));
        double loopStart = double.Parse(args[3], ci), now = double.Parse(args[4], ci), lead = double.Parse(args[5], ci);
        float intensity = float.Parse(args[6], ci);
        var schedule = new StemSchedule(manifest, args[1], loopStart);
        Console.WriteLine("moods " + manifest.Moods.Count + " transitions " + manifest.Transitions.Count);
        Console.WriteLine("next_bar " + schedule.NextBarLine(now + lead).ToString("R", ci));
        Console.WriteLine("next_beat " + schedule.NextBeat(now + lead).ToString("R", ci));
        foreach (var layer in manifest.Mood(args[2]).Layers)
            Console.WriteLine("layer " + layer.Name + " " + StemSchedule.LayerVolume(layer, intensity).ToString(ci));
        var plan = schedule.Change(args[2], now, lead);
        Console.WriteLine("transition " + plan.TransitionFile + " " + plan.TransitionStart.ToString("R", ci)
                          + " " + plan.LoopStart.ToString("R", ci));
        Console.WriteLine("mood " + schedule.Mood + " " + schedule.LoopStart.ToString("R", ci));
        return 0;
    }
}
