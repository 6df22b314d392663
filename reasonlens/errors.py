"""One error hierarchy for reasonlens.

The CLI turns every :class:`ReasonlensError` into a clean one-line message (exit code 2 for
bad input or configuration, 1 otherwise); with ``REASONLENS_RAISE_ERRORS=1`` (set by the test
suite) the original exception propagates so tests see full tracebacks.
"""

from __future__ import annotations


class ReasonlensError(Exception):
    """Base class of every error reasonlens raises on purpose."""

    exit_code = 1


class ConfigError(ReasonlensError):
    """A bad option, configuration file or unknown registered name."""

    exit_code = 2


class InputError(ReasonlensError):
    """A malformed input record. Names the file, the line (1-based) and the field."""

    exit_code = 2

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 field: str | None = None):
        self.path = path
        self.line = line
        self.field = field
        self.reason = message
        where = []
        if path is not None:
            where.append(str(path))
        if line is not None:
            where.append(f"line {line}")
        if field is not None:
            where.append(f"field {field!r}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)

    def as_record(self) -> dict:
        return {"path": self.path, "line": self.line, "field": self.field, "error": self.reason}


class OutputError(ReasonlensError):
    """An output cannot be written: permission denied, disk full, or another run holds its lock."""

    exit_code = 2

    def __init__(self, message: str, *, path: str | None = None):
        self.path = path
        super().__init__(message)


class UnknownNameError(ConfigError):
    """An unknown registered name; the message lists the valid ones."""

    def __init__(self, kind: str, name: str, valid: list[str] | tuple[str, ...]):
        self.kind, self.name, self.valid = kind, name, list(valid)
        super().__init__(
            f"unknown {kind} {name!r}; valid {kind}s: {', '.join(sorted(self.valid)) or '(none)'}"
        )


class MissingDependencyError(ReasonlensError):
    """An optional dependency is missing; the message names the extra to install."""

    exit_code = 2


class EndpointError(ReasonlensError):
    """An OpenAI-compatible endpoint failed after all retries, or answered unusably."""


class JudgeError(ReasonlensError):
    """The behaviour judge could not run."""


class GradeError(ReasonlensError):
    """Grading could not run (not: a response that cannot be graded, which is a recorded reason)."""


class AblationError(ReasonlensError):
    """The token-restriction ablation could not run."""
