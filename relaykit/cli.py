"""The `relaykit` console script: the local quickstart, the relay and the simulator, keys and
usage, and the operator's commands (status, invoke, env, cost, doctor, connect).

Built on typer (click) with rich. Exit codes: 0 on success; 1 with one `relaykit: error:` line on
stderr that names the flag and the fix (`--debug` adds the traceback); 2 for bad arguments, with
the allowed values; `doctor` exits with the number of failed checks.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer

from relaykit import (
    client_env,
    connect,
    cost_estimate,
    doctor,
    invoke,
    keys_cli,
    models,
    run_commands,
    status,
)
from relaykit.failures import describe

PROG = "relaykit"

app = typer.Typer(
    name=PROG,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)


def _package_version() -> str:
    try:
        return version("claude-relay-kit")
    except PackageNotFoundError:
        return "unknown"


def _show_version(value: bool) -> None:
    if value:
        print(f"{PROG} {_package_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    version_: Annotated[
        bool | None,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of an error, not one line.")
    ] = False,
) -> None:
    """Your own Claude endpoint: the relay, the Bedrock simulator, keys, and operator tools.

    Start with `relaykit local`; `relaykit COMMAND --help` describes each command.
    """


app.command()(run_commands.local)
app.command()(run_commands.serve)
app.command()(run_commands.simulator)
app.command("deploy-rehearsal")(run_commands.deploy_rehearsal)
app.command()(models.models)
app.add_typer(keys_cli.keys, name="keys")
app.command()(keys_cli.usage)
app.command()(keys_cli.usage_replay)
app.command()(status.status)
app.command()(invoke.invoke)
app.command("env")(client_env.env)
app.command()(cost_estimate.cost)
app.command("doctor")(doctor.doctor)
app.add_typer(connect.connect, name="connect")


def _fail(message: str) -> int:
    # One line, whatever the library's message looked like.
    print(f"{PROG}: error: {' '.join(message.split())}", file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name=PROG, standalone_mode=False)
    except typer.Abort:
        return 130
    except typer.TyperException as error:
        context = getattr(error, "ctx", None)
        if type(error).__name__ == "NoArgsIsHelpError" and context is not None:
            print(context.get_help())
            return 2
        if error.exit_code != 2:
            return _fail(error.format_message())
        # Bad arguments: the message lists what is allowed; exit 2 as click and argparse do.
        where = context.command_path if context is not None else PROG
        # typer validates with pydantic, whose messages start "Value error, ".
        message = error.format_message().replace("Value error, ", "")
        print(f"{PROG}: error: {message} (see {where} --help)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        if "--debug" in args:
            traceback.print_exc()
        return _fail(describe(error))
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
