"""`relaykit env`: the lines that point a shell and a client at a relay.

Per shell: the exports. Per client: Claude Code's `settings.json` (base URL, key helper, the
models behind its opus/sonnet/haiku aliases), or a snippet for the anthropic SDK, the openai SDK
(the relay's Chat Completions route), LangChain or LiteLLM. Models come from the catalog.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from typing import Annotated

import typer

from relay.catalog import MODELS, Model
from relaykit.endpoints import Endpoint, Local, Stack, StackRegion, resolve_endpoint

KEY_PLACEHOLDER = "<your relay key: relaykit keys create>"


class Shell(StrEnum):
    BASH = "bash"
    ZSH = "zsh"
    FISH = "fish"
    POWERSHELL = "powershell"


class Client(StrEnum):
    CLAUDE_CODE = "claude-code"
    ANTHROPIC = "anthropic"
    OPENAI = "openai"
    LANGCHAIN = "langchain"
    LITELLM = "litellm"


def export(shell: Shell, name: str, value: str) -> str:
    quoted = value.replace("'", "''") if shell is Shell.POWERSHELL else value.replace("'", "'\\''")
    if shell is Shell.FISH:
        return f"set -gx {name} '{quoted}'"
    if shell is Shell.POWERSHELL:
        return f"$env:{name} = '{quoted}'"
    return f"export {name}='{quoted}'"


def _version(model: Model) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", model.alias))


def newest(family: str) -> Model | None:
    """The newest served model of a family that Bedrock can route to (by its alias's version)."""
    routable = [
        m
        for m in MODELS
        if family in m.name and m.served and (m.inference_profiles or m.bedrock_in_region)
    ]
    return max(routable, key=_version, default=None)


def claude_code_settings(url: str, key_helper: str | None) -> dict[str, object]:
    env = {"ANTHROPIC_BASE_URL": url}
    for family in ("Opus", "Sonnet", "Haiku"):
        model = newest(family)
        if model:
            env[f"ANTHROPIC_DEFAULT_{family.upper()}_MODEL"] = model.alias
    settings: dict[str, object] = {"env": env}
    if key_helper:
        # Claude Code runs this and sends what it prints as the API key.
        settings["apiKeyHelper"] = key_helper
    return settings


def variables(client: Client, url: str, key: str) -> dict[str, str]:
    if client is Client.OPENAI:
        return {"OPENAI_BASE_URL": f"{url}/v1", "OPENAI_API_KEY": key}
    return {"ANTHROPIC_BASE_URL": url, "ANTHROPIC_API_KEY": key}


def snippet(client: Client, url: str, model: str) -> str:
    if client is Client.ANTHROPIC:
        return (
            "import anthropic\n"
            "client = anthropic.Anthropic()  # reads ANTHROPIC_BASE_URL and ANTHROPIC_API_KEY\n"
            f'client.messages.create(model="{model}", max_tokens=256,\n'
            '                       messages=[{"role": "user", "content": "Hello"}])'
        )
    if client is Client.OPENAI:
        return (
            "import openai\n"
            "client = openai.OpenAI()  # reads OPENAI_BASE_URL and OPENAI_API_KEY\n"
            f'client.chat.completions.create(model="{model}",\n'
            '                               messages=[{"role": "user", "content": "Hello"}])'
        )
    if client is Client.LANGCHAIN:
        return (
            "import os\n"
            "from langchain_anthropic import ChatAnthropic\n"
            f'llm = ChatAnthropic(model="{model}", base_url=os.environ["ANTHROPIC_BASE_URL"],\n'
            '                    api_key=os.environ["ANTHROPIC_API_KEY"])'
        )
    return (
        "import os, litellm\n"
        f'litellm.completion(model="anthropic/{model}",\n'
        '                   api_base=os.environ["ANTHROPIC_BASE_URL"],\n'
        '                   api_key=os.environ["ANTHROPIC_API_KEY"],\n'
        '                   messages=[{"role": "user", "content": "Hello"}])'
    )


def env(
    endpoint: Endpoint = None,
    stack: Stack = None,
    region: StackRegion = None,
    local: Local = False,
    shell: Annotated[Shell, typer.Option(help="The shell to write exports for.")] = Shell.BASH,
    client: Annotated[Client, typer.Option(help="The client to configure.")] = Client.ANTHROPIC,
    key: Annotated[
        str | None,
        typer.Option(envvar="ANTHROPIC_API_KEY", help="The relay key. [default: a placeholder]"),
    ] = None,
    key_helper: Annotated[
        str | None,
        typer.Option(help="Claude Code: a command that prints the key (apiKeyHelper)."),
    ] = None,
) -> None:
    """Print the exports and config snippet that point a client at a relay.

    Example: relaykit env --stack ClaudeRelay-Relay-Primary --client claude-code --shell fish
    """
    url = resolve_endpoint(endpoint, stack, region, local)
    if client is Client.CLAUDE_CODE:
        settings = claude_code_settings(url, key_helper)
        print("# ~/.claude/settings.json (or .claude/settings.json in a project):")
        print(json.dumps(settings, indent=2))
        if not key_helper:
            print("# without --key-helper, Claude Code takes the key from the shell:")
            print(export(shell, "ANTHROPIC_API_KEY", key or KEY_PLACEHOLDER))
        return
    for name, value in variables(client, url, key or KEY_PLACEHOLDER).items():
        print(export(shell, name, value))
    model = newest("Haiku")
    print()
    print(snippet(client, url, model.alias if model else MODELS[0].alias))
