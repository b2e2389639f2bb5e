"""Help pages without a value type on flags (`--demo`, `--help` take no value)."""

from __future__ import annotations

from typing import Any

from typer.core import TyperGroup, TyperOption


def _plain_flags(command: Any, ctx: Any) -> None:
    """Give every flag of `command` (and of its subcommands) an empty metavar.

    Typer's help shows a flag's metavar in place of its type, so an empty one shows nothing
    instead of `<bool>`.
    """
    params = [*command.params]
    helper = command.get_help_option(ctx)
    if helper is not None:
        params.append(helper)
    for param in params:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        _plain_flags(sub, ctx)


class PlainFlagsGroup(TyperGroup):
    """The root command group: its commands and sub-groups list flags without a type."""

    def get_params(self, ctx: Any) -> list[Any]:
        """The root's own options, flags shown without a type."""
        _plain_flags(self, ctx)
        return super().get_params(ctx)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """The command named `cmd_name`, its flags (and its sub-commands') shown without a type."""
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _plain_flags(command, ctx)
        return command
