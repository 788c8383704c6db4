"""llmtui: a terminal workbench for running large language models locally on llama.cpp."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("llmtui")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
