@tool
extends EditorPlugin
## Enabling the plugin makes the AdaptiveMusic node available under Add Child Node (its
## class_name registers it); nothing else needs setting up in the editor.


func _enter_tree() -> void:
	print_verbose("adaptive_music: AdaptiveMusic node available")


func _exit_tree() -> void:
	pass
