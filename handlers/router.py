"""A command line or a button payload in, a Reply out — the same for every platform."""

from __future__ import annotations

import functools
import logging
import pkgutil
import re
import secrets
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from handlers.access import Caller, Role, refusal_text, role_of
from jobs.context import Context
from jobs.core.reply import Reply
from jobs.core.safe_text import first_unseen
from jobs.core.text import closest

log = logging.getLogger(__name__)


class UsageError(Exception):
    """Bad arguments; the router answers with the message and the command's usage."""


@dataclass(frozen=True)
class Request:
    context: Context
    caller: Caller
    role: Role
    args: list[str]
    router: Router
    command: str = ""  # its name as the router knows it ("review"); "" for a press


Handler = Callable[[Request], Reply]
# A handler, or where it is defined ("handlers.review:review"): the catalog names each
# command's handler so that its module, and the jobs/ parts it needs, load on the
# command's first use; a process nobody asks for a digest holds none of the digest.
HandlerRef = Handler | str


def handler(ref: HandlerRef) -> Handler:
    """The function a reference names, its module imported on first use."""
    return _resolved(ref) if isinstance(ref, str) else ref


@functools.cache
def _resolved(ref: str) -> Handler:
    """Looked up once a reference; every later command finds it here."""
    found: Handler = pkgutil.resolve_name(ref)
    return found


@dataclass(frozen=True)
class Command:
    name: str
    usage: str  # e.g. "/review <repo> [full]"
    summary: str
    run: HandlerRef
    role: Role = Role.VIEWER
    # Slow commands (a review) run in the adapters' slow lane, apart from quick ones.
    slow: bool = False
    # Pure: no database, no files, no network. Answered inside the acknowledgement.
    instant: bool = False
    # Pure too: an answer that needs none of the command's work (a repository name that
    # is not configured), given inside the acknowledgement; None: the work it is.
    early: Callable[[Request], Reply | None] | None = None


@dataclass(frozen=True)
class Action:
    """A button: payloads look like `<prefix>:<arg>:<arg>`; `shape` is exactly what
    opsdesk writes (a payload that does not match it was not made by opsdesk)."""

    prefix: str
    run: HandlerRef
    role: Role = Role.VIEWER
    shape: re.Pattern[str] | None = None


NOT_A_BUTTON = "That button is not one opsdesk made (unknown payload); nothing was recorded."


def parse_command_line(text: str) -> tuple[str, list[str]]:
    """'/review@opsdesk_bot api full' → ('review', ['api', 'full'])."""
    try:
        # shlex only when quoting is in play: a plain split is ~50x cheaper, and this
        # runs on every command's acknowledgement path.
        quoted = any(mark in text for mark in "\"'\\")
        words = shlex.split(text.strip()) if quoted else text.split()
    except ValueError as exc:
        raise UsageError(f"Could not read that command: {exc}.") from exc
    if not words:
        raise UsageError("Empty command.")
    name = words[0].removeprefix("/").split("@", 1)[0].lower()
    return name, words[1:]


class Router:
    def __init__(
        self, context: Context, commands: Iterable[Command], actions: Iterable[Action] = ()
    ) -> None:
        self.context = context
        self.commands = {command.name: command for command in commands}
        self.actions = {action.prefix: action for action in actions}

    def role(self, caller: Caller) -> Role:
        return role_of(caller, self.context.config.access)

    def command_for(self, text: str) -> Command | None:
        try:
            name, _ = parse_command_line(text)
        except UsageError:
            return None
        return self.commands.get(name)

    def handle(self, caller: Caller, text: str) -> Reply:
        """Run one command line for `caller`; the reply's text is scrubbed of secrets."""
        return self._handle(caller, text).scrubbed()

    def press(self, caller: Caller, payload: str) -> Reply:
        """Handle a button press; the reply's text is scrubbed of secrets."""
        return self._press(caller, payload).scrubbed()

    def _handle(self, caller: Caller, text: str) -> Reply:
        checked = self._check(caller, text)
        if isinstance(checked, Reply):
            return checked
        command, request = checked
        return self._run(f"/{command.name}", caller.typed(command.usage), command.run, request)

    def triage(self, caller: Caller, text: str) -> Reply | Command:
        """Without I/O: the reply when it needs none — a refusal, a typo, an instant
        command like help — so an adapter can give it inside its acknowledgement;
        otherwise the command that `handle` will run (its lane: `slow`)."""
        checked = self._check(caller, text)
        if isinstance(checked, Reply):
            return checked.scrubbed()
        command, request = checked
        early = command.early(request) if command.early is not None else None
        if early is not None:
            return early.scrubbed()
        if not command.instant:
            return command
        return self._run(
            f"/{command.name}", caller.typed(command.usage), command.run, request
        ).scrubbed()

    def _check(self, caller: Caller, text: str) -> Reply | tuple[Command, Request]:
        """Access and parsing, from the config alone (no I/O)."""
        role = self.role(caller)
        if role is Role.NONE:
            return Reply.refused(refusal_text(caller, Role.VIEWER))
        # No command needs a control, direction or invisible character, nor a lone
        # surrogate (JSON can carry one): refused, named, before anything reads it.
        unseen = first_unseen(text.replace("\r", " "))
        if unseen is not None:
            return Reply.error(
                f"That command holds a character that does not show as itself ({unseen}: "
                f"a control, direction or invisible character); type it again without it."
            )
        try:
            name, args = parse_command_line(text)
        except UsageError as exc:
            return Reply.error(f"{exc} Send {caller.typed('/help')} for the list.")
        command = self.commands.get(name)
        if command is None:
            close = closest(name, self.commands)
            hint = f" Did you mean {caller.typed('/' + close)}?" if close else ""
            return Reply.error(
                f"Unknown command {caller.typed('/' + name)}.{hint} "
                f"Send {caller.typed('/help')} for the list."
            )
        if role < command.role:
            return Reply.refused(refusal_text(caller, command.role))
        return command, Request(self.context, caller, role, args, self, name)

    def _press(self, caller: Caller, payload: str) -> Reply:
        """Payloads come from the outside: never trust them."""
        role = self.role(caller)
        if role is Role.NONE:
            return Reply.refused(refusal_text(caller, Role.VIEWER))
        prefix, _, rest = payload.partition(":")
        action = self.actions.get(prefix)
        if action is None or not rest:
            return Reply.error(NOT_A_BUTTON)
        if action.shape is not None and not action.shape.fullmatch(payload):
            return Reply.error(NOT_A_BUTTON)
        if role < action.role:
            return Reply.refused(refusal_text(caller, action.role))
        request = Request(self.context, caller, role, rest.split(":"), self)
        return self._run(f"button {prefix}", "", action.run, request)

    @staticmethod
    def _run(what: str, usage: str, run: HandlerRef, request: Request) -> Reply:
        try:
            return handler(run)(request)
        except UsageError as exc:
            return Reply.error(str(exc), usage=usage)
        except Exception:
            error_id = secrets.token_hex(2)
            log.exception("%s failed (error %s)", what, error_id)
            return Reply.error(f"Something went wrong (error {error_id}); the log has the details.")
