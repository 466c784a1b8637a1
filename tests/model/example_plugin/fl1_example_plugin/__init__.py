"""A minimal lmms-eval chat-model plugin (see model/PLUGINS.md)."""
