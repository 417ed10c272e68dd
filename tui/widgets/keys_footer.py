"""The key footer, rebuilt only when the keys it shows change; keys kept out of a narrow
footer join it when the terminal is wide enough for them."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

PALETTE_WIDTH = 14  # "▏^p palette", docked right


class KeysFooter(Footer):
    """Textual's ``Footer`` rebuilds its keys (a widget each, restyled one by one) whenever
    the screen's bindings may have changed: every focus move and every screen shown, often
    several times in one frame. This one rebuilds only when what it would show differs,
    which takes 10-30 ms off showing the new-run form and the first frame of the runs.

    A screen's ``FOOTER_IF_ROOM`` (action -> short label) names keys hidden from the footer
    (``show=False``: no room at 80 columns) that are shown, in that order, while they fit."""

    def __init__(self, *, compact: bool = False) -> None:
        super().__init__(compact=compact)
        self._shown: tuple[object, ...] | None = None
        self._extras: list[str] = []  # the FOOTER_IF_ROOM actions that fit, as last worked out
        self._pending = False

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus or not self.is_attached or screen is not self.screen:
            return
        self._rebuild_soon()

    def on_resize(self, _event: events.Resize) -> None:
        if self._bindings_ready:
            self._rebuild_soon()  # wider or narrower: the keys that fit may differ

    def _rebuild_soon(self) -> None:
        if not self._pending:  # one check per frame, however many changes were told
            self._pending = True
            self.call_after_refresh(self._rebuild_if_changed)

    async def _rebuild_if_changed(self) -> None:
        self._pending = False
        if not self.is_attached:
            return  # its screen closed before this frame
        shown = tuple(
            (binding.key, binding.key_display, binding.description, binding.action,
             binding.show, binding.group, enabled, tooltip)
            for _, binding, enabled, tooltip in self.screen.active_bindings.values()
        )
        extras = self._extra_actions()
        if (shown, extras) != (self._shown, self._extras):
            self._shown, self._extras = shown, extras
            await self.recompose()

    def compose(self) -> ComposeResult:
        yield from super().compose()
        if not self._bindings_ready:
            return
        labels = getattr(self.screen, "FOOTER_IF_ROOM", {})
        bindings = {b.action: (b, enabled, tip)
                    for _, b, enabled, tip in self.screen.active_bindings.values()}
        for action in (a for a in self._extras if a in bindings):  # Textual may recompose too
            binding, enabled, tooltip = bindings[action]
            yield FooterKey(binding.key, self.app.get_key_display(binding), labels[action],
                            action, disabled=not enabled,
                            tooltip=tooltip or binding.description,
                            ).data_bind(compact=Footer.compact)

    def _extra_actions(self) -> list[str]:
        """The screen's ``FOOTER_IF_ROOM`` keys that fit beside the footer's own keys."""
        labels: dict[str, str] = getattr(self.screen, "FOOTER_IF_ROOM", {})
        if not labels:
            return []
        active = [b for _, b, _, _ in self.screen.active_bindings.values()]
        shown = {b.action: b for b in reversed(active) if b.show}  # one key per action
        used = PALETTE_WIDTH + sum(self._width(self.app.get_key_display(b), b.description)
                                   for b in shown.values())
        room = self.app.size.width - used
        hidden = {b.action: b for b in active if not b.show}
        extra = []
        for action, label in labels.items():
            binding = hidden.get(action)
            if binding is None:
                continue
            need = self._width(self.app.get_key_display(binding), label)
            if need > room:
                break  # in order: a later, shorter key never jumps an earlier one
            extra.append(action)
            room -= need
        return extra

    def _width(self, key: str, label: str) -> int:
        return len(key) + 1 + len(label) + (1 if self.compact else 2)
