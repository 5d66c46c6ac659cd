// A compile-time stand-in for the few UnityEngine types the package's scripts use, so that
// mcs can type-check bridge/unity/Runtime and its samples without Unity. Signatures follow
// Unity's scripting reference; nothing here runs (this is not a test in Unity).
using System;

namespace UnityEngine
{
    public class Object { }
    public class Component : Object
    {
        public T GetComponent<T>() { throw new NotSupportedException(); }
        public bool CompareTag(string tag) { throw new NotSupportedException(); }
    }
    public class Behaviour : Component { public bool enabled; }
    public class MonoBehaviour : Behaviour { }
    public class AudioClip : Object { }
    public class AudioSource : Behaviour
    {
        public AudioClip clip;
        public void Play() { }
    }
    public class Collider : Component { public bool isTrigger; }
    public enum AudioSpeakerMode { Mono = 1, Stereo = 2, Quad = 3, Surround = 4, Mode5point1 = 5, Mode7point1 = 6, Prologic = 7 }
    public sealed class AudioSettings
    {
        public static int outputSampleRate { get { return 48000; } }
        public static AudioSpeakerMode speakerMode { get { return AudioSpeakerMode.Stereo; } }
        public static void GetDSPBufferSize(out int bufferLength, out int numBuffers) { bufferLength = 1024; numBuffers = 4; }
    }
    public static class Debug
    {
        public static void Log(object message) { }
        public static void LogWarning(object message) { }
    }
    [AttributeUsage(AttributeTargets.Field)] public sealed class TooltipAttribute : Attribute { public TooltipAttribute(string tooltip) { } }
    [AttributeUsage(AttributeTargets.Field)] public sealed class RangeAttribute : Attribute { public RangeAttribute(float min, float max) { } }
    [AttributeUsage(AttributeTargets.Class)] public sealed class RequireComponent : Attribute { public RequireComponent(Type type) { } }
    [AttributeUsage(AttributeTargets.Class)] public sealed class AddComponentMenu : Attribute { public AddComponentMenu(string menuName) { } }
}

namespace UnityEngine.Events
{
    public delegate void UnityAction<T0, T1>(T0 arg0, T1 arg1);
    public abstract class UnityEventBase { }
    public class UnityEvent<T0, T1> : UnityEventBase
    {
        public void AddListener(UnityAction<T0, T1> call) { }
        public void Invoke(T0 arg0, T1 arg1) { }
    }
}
