"""`llmtui serve`: Ollama's native API and OpenAI's, a thin face on the engine and the
library, as the CLI and the workbench are."""
