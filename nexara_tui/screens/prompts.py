"""Small modal questions: yes/no and a line of text (or a secret).

Used when opening a host needs the user: an unknown host key to accept, a key
passphrase to type. Keyboard only: y/n, enter/escape.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

_CSS = """
{cls} {{ align: center middle; }}
{cls} > Vertical {{
    width: 80; height: auto; max-height: 80%; border: round $warning; background: $surface;
    padding: 1 2;
}}
{cls} .hint {{ color: $text-muted; margin-top: 1; }}
"""


class ConfirmScreen(ModalScreen[bool]):
    DEFAULT_CSS = _CSS.format(cls="ConfirmScreen")
    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes", tooltip="Accept"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no", tooltip="Refuse"),
    ]

    def __init__(self, question: str, hint: str = "y: yes · n/escape: no") -> None:
        super().__init__()
        self.question = question
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question, id="question")
            yield Static(self.hint, classes="hint")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class PromptScreen(ModalScreen[str | None]):
    DEFAULT_CSS = _CSS.format(cls="PromptScreen")
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="prompt.cancel", tooltip="Give up")]

    def __init__(self, question: str, password: bool = False) -> None:
        super().__init__()
        self.question = question
        self.password = password

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question, id="question")
            yield Input(password=self.password, id="answer")
            yield Static("enter: ok · escape: cancel", classes="hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
