"""Errors that are for the person running WaddleBot to fix, not bugs."""

from __future__ import annotations


class ConfigurationError(ValueError):
    """A setting, or a mix of settings, WaddleBot cannot run with: found while reading the
    settings or while starting. The command line prints each as one line, ``<setting>:
    <problem>. <fix>``, and exits with status 78, ``EX_CONFIG`` (no traceback unless
    ``--debug`` or the log level is DEBUG).

    ``setting`` is the environment variable to change (``WADDLEBOT_...``), ``problem`` the rule
    it broke, ``fix`` what to do. A ``ValueError``, so code that already catches those keeps
    working. Never put a secret's value in any of them.
    """

    def __init__(self, problem: str, *, setting: str = "", fix: str = "") -> None:
        self.problem = problem
        self.setting = setting
        self.fix = fix
        super().__init__(self.line())

    def line(self) -> str:
        text = f"{self.setting}: {self.problem}" if self.setting else self.problem
        if self.fix:
            text = f"{text if text.endswith(('.', '?', '!')) else text + '.'} {self.fix}"
        return text

    def for_setting(self, setting: str) -> ConfigurationError:
        """This problem, naming ``setting`` unless it names one already."""
        if self.setting:
            return self
        named = type(self)(self.problem, setting=setting, fix=self.fix)
        named.__cause__ = self
        return named


class ServiceUnavailable(ConfigurationError):
    """A service a setting names (the database, Redis, a module over HTTP) does not answer:
    the setting may well be right and the service down. Said as one line like any
    :class:`ConfigurationError`, naming the setting to check; the command line exits with
    status 69, ``EX_UNAVAILABLE``, so a supervisor can tell "retry later" from "fix the
    configuration"."""


# ----- refusals: errors the person asking can fix -----------------------------------------------


class WaddleError(ValueError):
    """Something the person asking can fix; the message is a sentence meant for them.

    Raised by the services and answered once for each way in: the HTTP API answers ``status``
    with a problem whose ``detail`` is the message and whose ``code`` is ``code``
    (``web/errors.py``), chat replies with the message as a sentence (the SDK's
    :meth:`Module.handle`). Raise one of the kinds below; a bare ``WaddleError`` is a user
    error. A ``ValueError``, so code that already catches those keeps working.
    """

    status = 422
    code = "invalid_request"  # stable: API clients branch on it (docs/api.md)

    @property
    def sentence(self) -> str:
        return str(self)


class UserError(WaddleError):
    """Bad input: a malformed name, a time in the past, too long a text (422)."""


class NotFound(WaddleError, LookupError):
    """There is nothing by that name or number here (404). A ``LookupError`` too."""

    status = 404
    code = "not_found"


class Conflict(WaddleError):
    """The thing is in a state that does not allow this: the name is taken, the item is out,
    someone else decided first (409)."""

    status = 409
    code = "conflict"


class NotAllowed(WaddleError):
    """The caller's level or role is too low for this (403)."""

    status = 403
    code = "forbidden"


class LimitReached(WaddleError):
    """A community (or a person, or an item) has as many as it may have. 422, like other
    input the caller can change (remove one first); an API key's limit answers 409 as it
    always has (``KeyLimitReached``)."""

    code = "limit_reached"


REFUSALS = (NotFound, Conflict, NotAllowed, LimitReached)
"""The kinds chat says plainly. A bare or user error is a mistake in what was typed, which
some commands answer with their usage line instead."""


class Missing(NotFound):
    """``there is no <noun> <mark><name> here``: a named thing of the community."""

    noun = "thing"
    mark = ""  # written before the name: "!" for a command

    def __init__(self, name: str) -> None:
        super().__init__(f"there is no {self.noun} {self.mark}{name} here")
        self.name = name


class Taken(Conflict):
    """``there is already a <noun> <mark><name> here``: the name is in use in the community."""

    noun = "thing"
    mark = ""

    def __init__(self, name: str) -> None:
        article = "an" if self.noun[:1] in tuple("aeiou") else "a"
        super().__init__(f"there is already {article} {self.noun} {self.mark}{name} here")
        self.name = name


class UnknownNumber(NotFound):
    """``there is no <noun> #<number> here``: a numbered thing of the community."""

    def __init__(self, noun: str, number: int) -> None:
        super().__init__(f"there is no {noun} #{number} here")
        self.noun = noun
        self.number = number


class UnknownCommunity(NotFound):
    def __init__(self, community_id: int) -> None:
        super().__init__(f"no community {community_id}")
        self.community_id = community_id


class UnknownPerson(NotFound):
    """The person to act for is gone (merged into another since they were named)."""

    def __init__(self, user_id: int) -> None:
        super().__init__(f"there is no user {user_id}")
        self.user_id = user_id
