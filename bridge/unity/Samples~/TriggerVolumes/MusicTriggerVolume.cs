// Sample: a trigger collider that sends game events to the music as the player walks in
// and out. Event names come from the server's mood map (hello.events); the shipped map
// (adaptive_music/mood/maps/action_adventure.toml) has enter_dungeon, enter_overworld,
// enemy_spotted, combat_end, secret_found and more.
using AdaptiveMusicUnity;
using UnityEngine;

[RequireComponent(typeof(Collider))]
public sealed class MusicTriggerVolume : MonoBehaviour
{
    [Tooltip("The scene's AdaptiveMusic component.")]
    public AdaptiveMusic music;

    [Tooltip("Game event sent when the player enters (empty: none).")]
    public string enterEvent = "enter_dungeon";

    [Tooltip("Game event sent when the player leaves (empty: none).")]
    public string exitEvent = "enter_overworld";

    [Tooltip("Only colliders with this tag count.")]
    public string playerTag = "Player";

    void Reset()
    {
        GetComponent<Collider>().isTrigger = true;
    }

    void OnTriggerEnter(Collider other)
    {
        if (other.CompareTag(playerTag) && enterEvent.Length > 0) music.SendEvent(enterEvent);
    }

    void OnTriggerExit(Collider other)
    {
        if (other.CompareTag(playerTag) && exitEvent.Length > 0) music.SendEvent(exitEvent);
    }
}
