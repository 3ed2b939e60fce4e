"""The AI feature: ``!ai <question>`` answered by a language model (Ollama, or OpenAI and
OpenAI-compatible servers) in the community's persona, remembering the channel's last turns."""
