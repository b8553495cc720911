"""Errors that name the problem and the fix."""


class OtclirError(Exception):
    """Base class for errors this package raises on bad input or setup."""


class MissingPackageError(OtclirError, ImportError):
    pass


class UnknownLanguageError(OtclirError, KeyError):
    def __str__(self):  # KeyError would quote the message
        return str(self.args[0])


class TrecFormatError(OtclirError, ValueError):
    pass


class UnknownParameterError(OtclirError, ValueError):
    pass


class ModelBuildError(OtclirError, RuntimeError):
    pass


class InputError(OtclirError, ValueError):
    """An argument a public function cannot use: the message names the argument, the value and the fix."""
