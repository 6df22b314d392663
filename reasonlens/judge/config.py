"""Configuration of an LLM judge run (frozen; part of the provenance of every output)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from reasonlens.errors import ConfigError
from reasonlens.judge.chunking import ChunkConfig
from reasonlens.judge.request import STRUCTURED_MODES, ParseConfig, RequestParams
from reasonlens.judge.taxonomy import UNITS

TEXT_FIELDS = ("response", "reasoning")
MODES = ("count", "sentences")


@dataclass(frozen=True)
class JudgeConfig:
    """What to judge and how.

    - ``taxonomy``: registered name or path (default ``paper``); ``mode``: ``count`` (one call
      per behaviour and chunk, counting instances with quoted evidence) or ``sentences`` (one
      call per chunk labelling every sentence with the taxonomy's labels); ``unit``:
      ``episodes`` or ``sentences`` (default: the taxonomy's, episodes).
    - ``behaviours``: labels of the taxonomy or registered rubric names (default: every label);
      ``rubric_paths``: rubric files (a file whose behaviour matches a name replaces it).
    - ``template``: default ``judge_behaviour`` (count) or ``judge_sentences`` (sentences).
    - ``text_field``: ``response`` (the whole output, as in the paper) or ``reasoning``.
    - ``structured``: ``auto`` (JSON schema, falling back once to JSON object when the server
      rejects the schema), ``json_schema``, ``json_object`` or ``none``.
    - ``cache``/``cache_path``/``cache_sampled``: see :mod:`reasonlens.judge.cache`.
    - ``price_in``/``price_out``: US dollars per million prompt / completion tokens.
    """

    behaviours: tuple[str, ...] = ()
    rubric_paths: tuple[str, ...] = ()
    template: str | None = None
    taxonomy: str | None = None
    mode: str = "count"
    unit: str | None = None
    text_field: str = "response"
    include_problem: bool = True
    params: RequestParams = field(default_factory=RequestParams)
    structured: str = "auto"
    chunking: ChunkConfig = field(default_factory=ChunkConfig)
    tokenizer: str | None = None
    parse: ParseConfig = field(default_factory=ParseConfig)
    cache: bool = True
    cache_path: str | None = None
    cache_sampled: bool = False
    price_in: float = 0.0
    price_out: float = 0.0

    def __post_init__(self):
        if self.text_field not in TEXT_FIELDS:
            raise ConfigError(f"text field must be one of {', '.join(TEXT_FIELDS)}, got "
                              f"{self.text_field!r}")
        if self.mode not in MODES:
            raise ConfigError(f"--mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.unit is not None and self.unit not in UNITS:
            raise ConfigError(f"--unit must be one of {', '.join(UNITS)}, got {self.unit!r}")
        if self.structured not in STRUCTURED_MODES:
            raise ConfigError(f"--structured must be one of {', '.join(STRUCTURED_MODES)}, "
                              f"got {self.structured!r}")
        if self.params.temperature < 0:
            raise ConfigError("--temperature must be >= 0")
        if self.params.max_tokens < 1:
            raise ConfigError("--max-tokens must be >= 1")
        if self.price_in < 0 or self.price_out < 0:
            raise ConfigError("--price-in/--price-out must be >= 0")

    def record(self) -> dict[str, Any]:
        return asdict(self)
