"""Errors with one clear line of explanation, raised for bad input."""


class ExtractorError(Exception):
    """Base class: the message is what the user sees."""


class LoadError(ExtractorError):
    """The file cannot be read as a report (empty, binary, undecodable, unsupported, too large)."""


class ConfigError(ExtractorError):
    """A rule, template or prompt file is malformed."""
