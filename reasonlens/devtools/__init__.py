"""Development tools shared by the tests and the benchmarks (never used by the product).

- :mod:`reasonlens.devtools.servers`: the real local SmolLM2 OpenAI-compatible server
  (llama-cpp-python on 127.0.0.1) and a fault-injecting proxy;
- :mod:`reasonlens.devtools.models`: SmolLM2 as a transformers directory, from the GGUF file;
- :mod:`reasonlens.devtools.synthetic`: synthetic stage outputs with planted effects;
- :mod:`reasonlens.devtools.rubrics`: a toy one-behaviour judge rubric.
"""
