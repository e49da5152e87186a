"""`clanka llm serve`: a small server speaking Ollama's HTTP API in front of llama.cpp.

It makes the strategist runnable offline with a real model (SmolLM2-135M by default);
a real Ollama serving any model is a drop-in replacement, because both speak one API.
"""
