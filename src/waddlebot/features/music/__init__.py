"""Song requests: ``!sr`` and its queue, with YouTube as the first source (docs/music.md)."""
