"""Models other servers run: Ollama servers, OpenAI-compatible ones, another `llmtui serve`.

`config` names them (remotes.toml), `client` speaks their two APIs, `engine` runs chats on
them behind the same interface as the llama.cpp engine, and `routing` sends each request to
the engine that runs its model.
"""
